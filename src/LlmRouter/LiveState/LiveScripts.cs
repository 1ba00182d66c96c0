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
    /// <summary>Fields of an admission reply before the per-candidate stats.</summary>
    public const int ReplyHead = 7;
    /// <summary>Requests like the one admitted that a key must still have room for before a spare is taken for it.</summary>
    public const int PlentyLeft = 64;

    /// <summary>
    /// KEYS: key leases, key rpm, key tpm, key quota, key budget, key seeded marker; then per candidate: leases, backend leases,
    /// cooldown-until, rpm, tpm, ttft. ARGV: now, lease id, lease expiry, least-busy?, backend limit, has key?,
    /// key rpm, tpm, parallel, quota, budget limits, reserve tokens, reserve micros, candidate count, zset ttl,
    /// next minute, quota ttl, request id (the key hold's member); then per candidate: max parallel, rpm, tpm. -1 means "no limit".
    /// Returns {status, chosen (1-based), retry ms, remaining requests, remaining tokens, near limit (1: what the key has
    /// left would not hold another request like this one), plenty left (1: no key, or a key with no parallel limit and
    /// room under every other limit for <see cref="PlentyLeft"/> more requests like this one), per candidate: in flight,
    /// ttft, tokens, requests}.
    /// One call admits one or more requests (those that arrived while the previous call was on its way), each with
    /// the KEYS and ARGV above one after the other, in order; it returns one reply per request.
    /// </summary>
    public static readonly RedisScript Admit = new($$"""
        -- Arguments go back to Redis as the strings they came in as: a Lua number passed to redis.call is formatted
        -- with sprintf, and with parsing that was about 7% of Redis's time per request.
        local function num(v) return tonumber(v or '0') or 0 end
        -- Leases are scored by expiry: those past it do not count (the heartbeat's renewal sweeps them out).
        local function live(k, after) return redis.call('ZCOUNT', k, after, '+inf') end
        -- A minute counter gets its expiry when the minute's first request creates it.
        local function bump(k, by, byn)
          local v = redis.call('INCRBY', k, by)
          if v == byn then redis.call('PEXPIRE', k, '120000') end
          return v
        end
        local function admit(ko, ao)
          local function K(i) return KEYS[ko + i] end
          local function A(i) return ARGV[ao + i] end
          local now = tonumber(A(1))
          local after = '(' .. A(1)
          local lease = A(2)
          local least = A(4) == '1'
          local belimit = tonumber(A(5))
          local haskey = A(6) == '1'
          local n = tonumber(A(14))
          local reserve = tonumber(A(12))
          local reservem = tonumber(A(13))
          local par = tonumber(A(9))
          if haskey then
            local kv = redis.call('MGET', K(2), K(3), K(4), K(5), K(6))
            if num(kv[5]) <= now then return {'seed', 0, 0, -1, -1, 0, 0} end
            local rpm = tonumber(A(7))
            local tpm = tonumber(A(8))
            local quota = tonumber(A(10))
            local budget = tonumber(A(11))
            local nextmin = tonumber(A(16)) - now
            if rpm >= 0 and num(kv[1]) >= rpm then return {'rate', 0, nextmin, 0, -1, 0, 0} end
            if tpm >= 0 and num(kv[2]) + reserve > tpm then return {'rate', 0, nextmin, -1, 0, 0, 0} end
            if par >= 0 and live(K(1), after) >= par then return {'kpar', 0, 1000, -1, -1, 0, 0} end
            if quota >= 0 and num(kv[3]) + reserve > quota then return {'quota', 0, 0, -1, -1, 0, 0} end
            if budget >= 0 and num(kv[4]) + reservem > budget then return {'quota', 0, 0, -1, -1, 0, 0} end
          end
          local out = {}
          local chosen = 0
          local best = -1
          local busy = false
          local cool = -1
          for i = 1, n do
            local b = 6 + (i - 1) * 6
            local a = 18 + (i - 1) * 3
            local c = live(K(b + 1), after)
            -- cooldown-until, rpm, tpm, ttft
            local dv = redis.call('MGET', K(b + 3), K(b + 4), K(b + 5), K(b + 6))
            local rpmv = num(dv[2])
            local tpmv = num(dv[3])
            out[#out + 1] = c
            out[#out + 1] = dv[4] or '0'
            out[#out + 1] = tpmv
            out[#out + 1] = rpmv
            local untilms = num(dv[1])
            if untilms > now then
              if cool < 0 or untilms < cool then cool = untilms end
            else
              local maxp = tonumber(A(a + 1))
              local drpm = tonumber(A(a + 2))
              local dtpm = tonumber(A(a + 3))
              local full = (maxp >= 0 and c >= maxp) or (drpm >= 0 and rpmv >= drpm) or (dtpm >= 0 and tpmv >= dtpm)
              if not full and belimit >= 0 and live(K(b + 2), after) >= belimit then full = true end
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
            if busy or cool < 0 then head = {'busy', 0, 0, -1, -1, 0, 0} else head = {'cool', 0, cool - now, -1, -1, 0, 0} end
          else
            local b = 6 + (chosen - 1) * 6
            redis.call('ZADD', K(b + 1), A(3), lease)
            redis.call('PEXPIRE', K(b + 1), A(15))
            -- The backend's lease set only matters to a per-backend limit.
            if belimit >= 0 then
              redis.call('ZADD', K(b + 2), A(3), lease)
              redis.call('PEXPIRE', K(b + 2), A(15))
            end
            bump(K(b + 4), '1', 1)
            local remreq = -1
            local remtok = -1
            local near = 0
            local plenty = 1
            if haskey then
              -- The key's lease set only matters to a parallel limit.
              if par >= 0 then
                redis.call('ZADD', K(1), A(3), A(18))
                redis.call('PEXPIRE', K(1), A(15))
              end
              local r = bump(K(2), '1', 1)
              local t = bump(K(3), A(12), reserve)
              local q = redis.call('INCRBY', K(4), A(12))
              local m = 0
              if reservem > 0 then m = redis.call('INCRBY', K(5), A(13)) end
              if tonumber(A(17)) > 0 then
                redis.call('PEXPIRE', K(4), A(17))
                if reservem > 0 then redis.call('PEXPIRE', K(5), A(17)) end
              end
              if tonumber(A(7)) >= 0 then remreq = math.max(0, tonumber(A(7)) - r) end
              if tonumber(A(8)) >= 0 then remtok = math.max(0, tonumber(A(8)) - t) end
              -- What is left would not hold another request like this one: its settle matters to the next request.
              local quota = tonumber(A(10))
              local budget = tonumber(A(11))
              if (quota >= 0 and quota - q < reserve) or (budget >= 0 and reservem > 0 and budget - m < reservem)
                or (remtok >= 0 and remtok < reserve) then near = 1 end
              -- A spare (an admission taken ahead for the next request) only where it cannot be noticed.
              local room = {{PlentyLeft}}
              if par >= 0 or (remreq >= 0 and remreq < room) or (remtok >= 0 and remtok < room * reserve)
                or (quota >= 0 and quota - q < room * reserve) or (budget >= 0 and budget - m < room * reservem) then plenty = 0 end
            end
            head = {'ok', chosen, 0, remreq, remtok, near, plenty}
          end
          for i = 1, #out do head[#head + 1] = out[i] end
          return head
        end
        local results = {}
        local ko, ao = 0, 0
        while ao < #ARGV do
          local n = tonumber(ARGV[ao + 14])
          results[#results + 1] = admit(ko, ao)
          ko = ko + 6 + n * 6
          ao = ao + 18 + n * 3
        end
        return results
        """);

    /// <summary>
    /// Settles one or more requests in one call (those that finished while the previous call was on its way).
    /// Per request, <see cref="SettleKeys"/> KEYS: leases, backend leases, key leases, key tpm (admission minute), key
    /// quota, key budget, deployment tpm (now), failures, cooldown-until, ttft, key rpm (admission minute), deployment rpm
    /// (admission minute); and <see cref="SettleArgs"/> ARGV: lease id ('' = no deployment slot), has key?, token delta,
    /// micros delta, actual tokens, failed?, now, allowed fails, failure window ms, cooldown ms, ttft ms (-1 none),
    /// key lease member ('' = none: the key has no parallel limit), released? (1: an unused spare, whose request counts
    /// are given back too), on backend? (1: the lease is in the backend's set too). Counters never go below
    /// zero, even when Redis lost the reservation being corrected. Returns the positions (from 1) of the settles whose
    /// failure started a cooldown.
    /// </summary>
    public const int SettleKeys = 12;
    public const int SettleArgs = 14;

    public static readonly RedisScript Settle = new($$"""
        -- minute: a counter this creates expires after two minutes; d and the arguments stay strings (see Admit).
        local function adjust(k, d, minute)
          if tonumber(d) == 0 then return end
          local v = redis.call('INCRBY', k, d)
          if v < 0 then redis.call('SET', k, 0, 'KEEPTTL') end
          if minute and v == tonumber(d) then redis.call('PEXPIRE', k, '120000') end
        end
        local function settle(ko, ao)
          local function K(i) return KEYS[ko + i] end
          local function A(i) return ARGV[ao + i] end
          local slot = A(1) ~= ''
          if slot then
            redis.call('ZREM', K(1), A(1))
            if A(14) == '1' then redis.call('ZREM', K(2), A(1)) end
          end
          local released = A(13) == '1'
          if A(2) == '1' then
            if A(12) ~= '' then redis.call('ZREM', K(3), A(12)) end
            adjust(K(4), A(3), true)
            adjust(K(5), A(3))
            adjust(K(6), A(4))
            if released then adjust(K(11), '-1', true) end
          end
          if not slot then return end
          if released then adjust(K(12), '-1', true) end
          if tonumber(A(5)) > 0 then adjust(K(7), A(5), true) end
          local now = tonumber(A(7))
          if A(6) == '1' then
            local window = tonumber(A(9))
            redis.call('ZADD', K(8), A(7), A(1))
            redis.call('ZREMRANGEBYSCORE', K(8), '-inf', now - window)
            redis.call('PEXPIRE', K(8), window + 60000)
            if redis.call('ZCARD', K(8)) >= tonumber(A(8)) then
              local cooldown = tonumber(A(10))
              redis.call('SET', K(9), now + cooldown, 'PX', cooldown + 600000)
              redis.call('DEL', K(8))
              return true
            end
          elseif tonumber(A(11)) >= 0 then
            local old = tonumber(redis.call('GET', K(10)) or '-1')
            local v = tonumber(A(11))
            if old >= 0 then v = old * 0.8 + v * 0.2 end
            redis.call('SET', K(10), tostring(v), 'PX', 3600000)
          end
        end
        local cooling = {}
        for r = 0, #KEYS / {{SettleKeys}} - 1 do
          if settle(r * {{SettleKeys}}, r * {{SettleArgs}}) then cooling[#cooling + 1] = r + 1 end
        end
        return cooling
        """);

    /// <summary>
    /// KEYS: seeded marker, quota, budget, key rpm (this minute), key tpm (this minute). ARGV: period tokens, period
    /// micros, minute requests, minute tokens, counter ttl ms (-1: none), now ms, seeded-until ms. The marker holds
    /// "seeded until" (caller's clock); while it holds, a later seed (another replica racing, a retry) changes
    /// nothing, so usage is never counted twice.
    /// </summary>
    public static readonly RedisScript Seed = new("""
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
        """);

    /// <summary>
    /// KEYS: lease sets; ARGV: expiry, rebuild?, set ttl, now, then one lease id per key. Renews (or, after Redis lost
    /// its state, re-adds) leases, and sweeps out of each set the leases that expired (a crashed replica's).
    /// </summary>
    public static readonly RedisScript Renew = new("""
        local expiry = tonumber(ARGV[1])
        for i = 1, #KEYS do
          if ARGV[2] == '1' then
            redis.call('ZADD', KEYS[i], expiry, ARGV[i + 4])
          else
            redis.call('ZADD', KEYS[i], 'XX', expiry, ARGV[i + 4])
          end
          redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', ARGV[4])
          redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[3]))
        end
        return #KEYS
        """);
}
