namespace LlmRouter.LiveState;

/// <summary>
/// The two Lua scripts of the hot path. Each runs atomically in Redis, so concurrent replicas can never both take
/// the last slot or overshoot a limit (no read-then-write). Times are the caller's clock (the injected TimeProvider),
/// passed in as milliseconds, so tests can drive cooldowns and windows with a fake clock.
/// </summary>
internal static class LiveScripts
{
    public const int KeySlots = 6;
    public const int KeysPerCandidate = 6;
    public const int FixedArgs = 18;
    public const int ArgsPerCandidate = 3;

    /// <summary>
    /// KEYS: key leases, key rpm, key tpm, key quota, key budget, key seeded marker; then per candidate: leases, backend leases,
    /// cooldown-until, rpm, tpm, ttft. ARGV: now, lease id, lease expiry, least-busy?, backend limit, has key?,
    /// key rpm, tpm, parallel, quota, budget limits, reserve tokens, reserve micros, candidate count, zset ttl,
    /// next minute, quota ttl, request id (the key hold's member); then per candidate: max parallel, rpm, tpm. -1 means "no limit".
    /// Returns {status, chosen (1-based), retry ms, remaining requests, remaining tokens, per candidate: in flight, ttft, tokens, requests}.
    /// </summary>
    public const string Admit = """
        local now = tonumber(ARGV[1])
        local lease = ARGV[2]
        local expiry = tonumber(ARGV[3])
        local least = ARGV[4] == '1'
        local belimit = tonumber(ARGV[5])
        local haskey = ARGV[6] == '1'
        local n = tonumber(ARGV[14])
        local ttl = tonumber(ARGV[15])
        local function live(k) redis.call('ZREMRANGEBYSCORE', k, '-inf', now) return redis.call('ZCARD', k) end
        local function num(k) return tonumber(redis.call('GET', k) or '0') end
        local reserve = tonumber(ARGV[12])
        local reservem = tonumber(ARGV[13])
        if haskey then
          if tonumber(redis.call('GET', KEYS[6]) or '0') <= now then return {'seed', 0, 0, -1, -1} end
          local rpm = tonumber(ARGV[7])
          local tpm = tonumber(ARGV[8])
          local par = tonumber(ARGV[9])
          local quota = tonumber(ARGV[10])
          local budget = tonumber(ARGV[11])
          local nextmin = tonumber(ARGV[16]) - now
          if rpm >= 0 and num(KEYS[2]) >= rpm then return {'rate', 0, nextmin, 0, -1} end
          if tpm >= 0 and num(KEYS[3]) + reserve > tpm then return {'rate', 0, nextmin, -1, 0} end
          if par >= 0 and live(KEYS[1]) >= par then return {'kpar', 0, 1000, -1, -1} end
          if quota >= 0 and num(KEYS[4]) + reserve > quota then return {'quota', 0, 0, -1, -1} end
          if budget >= 0 and num(KEYS[5]) + reservem > budget then return {'quota', 0, 0, -1, -1} end
        end
        local out = {}
        local chosen = 0
        local best = -1
        local busy = false
        local cool = -1
        for i = 1, n do
          local b = 6 + (i - 1) * 6
          local a = 18 + (i - 1) * 3
          local c = live(KEYS[b + 1])
          local rpmv = num(KEYS[b + 4])
          local tpmv = num(KEYS[b + 5])
          out[#out + 1] = c
          out[#out + 1] = redis.call('GET', KEYS[b + 6]) or '0'
          out[#out + 1] = tpmv
          out[#out + 1] = rpmv
          local untilms = num(KEYS[b + 3])
          if untilms > now then
            if cool < 0 or untilms < cool then cool = untilms end
          else
            local maxp = tonumber(ARGV[a + 1])
            local drpm = tonumber(ARGV[a + 2])
            local dtpm = tonumber(ARGV[a + 3])
            local full = (maxp >= 0 and c >= maxp) or (drpm >= 0 and rpmv >= drpm) or (dtpm >= 0 and tpmv >= dtpm)
            if not full and belimit >= 0 and live(KEYS[b + 2]) >= belimit then full = true end
            if full then
              busy = true
            elseif (least and (best < 0 or c < best)) or ((not least) and chosen == 0) then
              chosen = i
              best = c
            end
          end
        end
        local head
        if chosen == 0 then
          if busy or cool < 0 then head = {'busy', 0, 0, -1, -1} else head = {'cool', 0, cool - now, -1, -1} end
        else
          local b = 6 + (chosen - 1) * 6
          redis.call('ZADD', KEYS[b + 1], expiry, lease)
          redis.call('PEXPIRE', KEYS[b + 1], ttl)
          redis.call('ZADD', KEYS[b + 2], expiry, lease)
          redis.call('PEXPIRE', KEYS[b + 2], ttl)
          redis.call('INCR', KEYS[b + 4])
          redis.call('PEXPIRE', KEYS[b + 4], 120000)
          local remreq = -1
          local remtok = -1
          if haskey then
            redis.call('ZADD', KEYS[1], expiry, ARGV[18])
            redis.call('PEXPIRE', KEYS[1], ttl)
            local r = redis.call('INCR', KEYS[2])
            redis.call('PEXPIRE', KEYS[2], 120000)
            local t = redis.call('INCRBY', KEYS[3], reserve)
            redis.call('PEXPIRE', KEYS[3], 120000)
            redis.call('INCRBY', KEYS[4], reserve)
            if reservem > 0 then redis.call('INCRBY', KEYS[5], reservem) end
            local qttl = tonumber(ARGV[17])
            if qttl > 0 then
              redis.call('PEXPIRE', KEYS[4], qttl)
              redis.call('PEXPIRE', KEYS[5], qttl)
            end
            if tonumber(ARGV[7]) >= 0 then remreq = math.max(0, tonumber(ARGV[7]) - r) end
            if tonumber(ARGV[8]) >= 0 then remtok = math.max(0, tonumber(ARGV[8]) - t) end
          end
          head = {'ok', chosen, 0, remreq, remtok}
        end
        for i = 1, #out do head[#head + 1] = out[i] end
        return head
        """;

    /// <summary>
    /// KEYS: leases, backend leases, key leases, key tpm (admission minute), key quota, key budget, deployment tpm (now),
    /// failures, cooldown-until, ttft. ARGV: lease id ('' = no deployment slot), has key?, token delta, micros delta,
    /// actual tokens, failed?, now, allowed fails, failure window ms, cooldown ms, ttft ms (-1 none), request id. Counters never go below zero, even when
    /// Redis lost the reservation being corrected.
    /// </summary>
    public const string Settle = """
        local function adjust(k, d)
          if tonumber(d) == 0 then return end
          local v = redis.call('INCRBY', k, d)
          if v < 0 then redis.call('SET', k, 0, 'KEEPTTL') end
        end
        local slot = ARGV[1] ~= ''
        if slot then
          redis.call('ZREM', KEYS[1], ARGV[1])
          redis.call('ZREM', KEYS[2], ARGV[1])
        end
        if ARGV[2] == '1' then
          redis.call('ZREM', KEYS[3], ARGV[12])
          adjust(KEYS[4], ARGV[3])
          adjust(KEYS[5], ARGV[3])
          adjust(KEYS[6], ARGV[4])
        end
        if slot and tonumber(ARGV[5]) > 0 then
          redis.call('INCRBY', KEYS[7], ARGV[5])
          redis.call('PEXPIRE', KEYS[7], 120000)
        end
        local now = tonumber(ARGV[7])
        if not slot then return 1 end
        if ARGV[6] == '1' then
          local window = tonumber(ARGV[9])
          redis.call('ZADD', KEYS[8], now, ARGV[1])
          redis.call('ZREMRANGEBYSCORE', KEYS[8], '-inf', now - window)
          redis.call('PEXPIRE', KEYS[8], window + 60000)
          if redis.call('ZCARD', KEYS[8]) >= tonumber(ARGV[8]) then
            local cooldown = tonumber(ARGV[10])
            redis.call('SET', KEYS[9], now + cooldown, 'PX', cooldown + 600000)
            redis.call('DEL', KEYS[8])
          end
        elseif tonumber(ARGV[11]) >= 0 then
          local old = tonumber(redis.call('GET', KEYS[10]) or '-1')
          local v = tonumber(ARGV[11])
          if old >= 0 then v = old * 0.8 + v * 0.2 end
          redis.call('SET', KEYS[10], tostring(v), 'PX', 3600000)
        end
        return 1
        """;

    /// <summary>
    /// KEYS: seeded marker, quota, budget, key rpm (this minute), key tpm (this minute). ARGV: period tokens, period
    /// micros, minute requests, minute tokens, counter ttl ms (-1: none), now ms, seeded-until ms. The marker holds
    /// "seeded until" (caller's clock); while it holds, a later seed (another replica racing, a retry) changes
    /// nothing, so usage is never counted twice.
    /// </summary>
    public const string Seed = """
        if tonumber(redis.call('GET', KEYS[1]) or '0') > tonumber(ARGV[6]) then return 0 end
        redis.call('SET', KEYS[1], ARGV[7])
        local ttl = tonumber(ARGV[5])
        if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
        redis.call('INCRBY', KEYS[2], ARGV[1])
        redis.call('INCRBY', KEYS[3], ARGV[2])
        redis.call('INCRBY', KEYS[4], ARGV[3])
        redis.call('PEXPIRE', KEYS[4], 120000)
        redis.call('INCRBY', KEYS[5], ARGV[4])
        redis.call('PEXPIRE', KEYS[5], 120000)
        if ttl > 0 then
          redis.call('PEXPIRE', KEYS[2], ttl)
          redis.call('PEXPIRE', KEYS[3], ttl)
        end
        return 1
        """;

    /// <summary>KEYS: lease sets; ARGV: expiry, rebuild?, set ttl, then one lease id per key. Renews (or, after Redis lost its state, re-adds) leases.</summary>
    public const string Renew = """
        local expiry = tonumber(ARGV[1])
        for i = 1, #KEYS do
          if ARGV[2] == '1' then
            redis.call('ZADD', KEYS[i], expiry, ARGV[i + 3])
          else
            redis.call('ZADD', KEYS[i], 'XX', expiry, ARGV[i + 3])
          end
          redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[3]))
        end
        return #KEYS
        """;
}
