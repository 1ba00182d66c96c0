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
    public const int FixedArgs = 19;
    public const int ArgsPerCandidate = 3;
    /// <summary>Fields of an admission reply before the per-candidate stats.</summary>
    public const int ReplyHead = 7;
    /// <summary>Requests like the one admitted that a key must still have room for before a spare is taken for it.</summary>
    public const int PlentyLeft = 128;

    /// <summary>
    /// Values gathered per key (lease ids per lease set), in the order the keys first came, and a command run over a
    /// key's values in parts: Lua's <c>unpack</c> takes a few thousand values at most.
    /// </summary>
    private const string PerKey = """
        -- Adds a (and b, when given) to k's list in lists; order keeps each key once, as it first came.
        local function gather(lists, order, k, a, b)
          local l = lists[k]
          if l == nil then l = {}; lists[k] = l; order[#order + 1] = k end
          l[#l + 1] = a
          if b ~= nil then l[#l + 1] = b end
        end
        local function spread(cmd, k, opt, list)
          for i = 1, #list, 512 do
            local j = math.min(i + 511, #list)
            if opt then redis.call(cmd, k, opt, unpack(list, i, j)) else redis.call(cmd, k, unpack(list, i, j)) end
          end
        end
        """;

    /// <summary>
    /// What the admission and settle scripts share. One call carries the requests that came while the previous one was
    /// on its way, and they mostly share their keys. Each <c>redis.call</c> costs Redis several times what the command
    /// itself does (arguments and reply go through Lua), so a call reads each key once, keeps what its requests add, and
    /// writes each key once at its end: one INCRBY per counter and one ZADD or ZREM per lease set, however many requests
    /// it carries. The script runs atomically, so this ends exactly where writing after each request would.
    /// </summary>
    private const string Batched = $$"""
        {{PerKey}}
        -- key -> the value read ('0': none), and as a number with this call's additions. Parsing a number is one of
        -- the dearer things a script does in Redis (strtod), so each is parsed once.
        local seen, value = {}, {}
        -- floor: the least a counter can end at, as if each request's change were applied and clamped at zero in turn
        -- (the highest sum of the call's last changes, or 0). It only matters after Redis lost a reservation that a
        -- refund corrects.
        local adds, added, minute, floor = {}, {}, {}, {}
        local function load(...)
          local miss
          for i = 1, select('#', ...) do
            local k = select(i, ...)
            if seen[k] == nil then
              if miss == nil then miss = {} end
              miss[#miss + 1] = k
            end
          end
          if miss == nil then return end
          local got = redis.call('MGET', unpack(miss))
          for i = 1, #miss do
            local v = got[i] or '0'
            seen[miss[i]] = v
            value[miss[i]] = tonumber(v) or 0
          end
        end
        -- Adds to a counter; returns its value after, for a counter read first. perMinute: a counter this call creates
        -- expires after two minutes.
        local function bump(k, by, perMinute)
          if adds[k] == nil then adds[k] = 0; floor[k] = 0; added[#added + 1] = k end
          adds[k] = adds[k] + by
          floor[k] = math.max(0, floor[k] + by)
          if perMinute then minute[k] = true end
          local v = value[k]
          if v == nil then return nil end
          v = v + by
          value[k] = v
          return v
        end
        -- Counters never go below zero, even when Redis lost the reservation being corrected.
        local function writeCounters()
          for _, k in ipairs(added) do
            local by = adds[k]
            if by ~= 0 or floor[k] > 0 then
              local v = redis.call('INCRBY', k, by)
              if v < floor[k] then redis.call('SET', k, floor[k], 'KEEPTTL') end
              if minute[k] and v == by then redis.call('PEXPIRE', k, '120000') end
            end
          end
        end
        """;

    /// <summary>
    /// KEYS: key leases, key rpm, key tpm, key quota, key budget, key seeded marker; then per candidate: leases, backend leases,
    /// cooldown-until, rpm, tpm, ttft. ARGV: now, lease id, lease expiry, least-busy?, backend limit, has key?,
    /// key rpm, tpm, parallel, quota, budget limits, reserve tokens, reserve micros, candidate count, zset ttl,
    /// next minute, quota ttl, request id (the key hold's member), how many more admissions like this one follow; then
    /// per candidate: max parallel, rpm, tpm; then a lease id and a request id for each admission that follows (spares
    /// taken together, sent once). -1 means "no limit".
    /// Returns {status, chosen (1-based), retry ms, remaining requests, remaining tokens, near limit (1: what the key has
    /// left would not hold another request like this one), plenty left (1: no key, or a key with no parallel limit and
    /// room under every other limit for <see cref="PlentyLeft"/> more requests like this one), per candidate: in flight,
    /// ttft, tokens, requests}.
    /// One call admits one or more requests (those that arrived while the previous call was on its way), each with
    /// the KEYS and ARGV above one after the other, in order, except that spares taken together send only their ids,
    /// after the first's arguments; it returns one reply per request, followers included.
    /// </summary>
    public static readonly RedisScript Admit = new($$"""
        -- Arguments go back to Redis as the strings they came in as where they can: a Lua number passed to
        -- redis.call is formatted with sprintf, and with parsing that was about 7% of Redis's time per request. Only
        -- the counters' increments, summed over the call's requests, go as numbers, once per counter.
        {{Batched}}
        local zadds, zaddKeys, zttl, expire = {}, {}, {}, nil
        local function zadd(k, score, member, ttl)
          gather(zadds, zaddKeys, k, score, member)
          zttl[k] = ttl
        end
        local function expireAfter(k, ttl)
          if expire == nil then expire = {} end
          if expire[k] == nil then expire[#expire + 1] = k end
          expire[k] = ttl
        end
        local function write()
          for _, k in ipairs(zaddKeys) do
            spread('ZADD', k, nil, zadds[k])
            redis.call('PEXPIRE', k, zttl[k])
          end
          writeCounters()
          if expire then
            for _, k in ipairs(expire) do
              -- A counter a call adds nothing to exists all the same, so it gets its period's expiry now.
              if (adds[k] or 0) == 0 then redis.call('INCRBY', k, 0) end
              redis.call('PEXPIRE', k, expire[k])
            end
          end
        end
        -- Leases are scored by expiry: those past it do not count (the heartbeat's renewal sweeps them out). Leases this
        -- call adds expire later than any admission's now, so they all count.
        local countedAfter, counted = {}, {}
        local function live(k, after)
          if countedAfter[k] ~= after then
            countedAfter[k] = after
            counted[k] = redis.call('ZCOUNT', k, after, '+inf')
          end
          local pending = zadds[k]
          return counted[k] + (pending and #pending / 2 or 0)
        end
        -- A limit comes as '-1' when there is none: compared as a string, not parsed.
        local function limit(v) if v == '-1' then return -1 end return tonumber(v) end
        local function admit(ko, ao, lease, rid)
          local now = tonumber(ARGV[ao + 1])
          local after = '(' .. ARGV[ao + 1]
          local least = ARGV[ao + 4] == '1'
          local belimit = limit(ARGV[ao + 5])
          local haskey = ARGV[ao + 6] == '1'
          local n = tonumber(ARGV[ao + 14])
          local rpm, tpm, par, quota, budget, reserve, reservem = -1, -1, -1, -1, -1, 0, 0
          if haskey then
            rpm, tpm, par, quota, budget = limit(ARGV[ao + 7]), limit(ARGV[ao + 8]), limit(ARGV[ao + 9]), limit(ARGV[ao + 10]), limit(ARGV[ao + 11])
            reserve, reservem = tonumber(ARGV[ao + 12]), tonumber(ARGV[ao + 13])
            load(KEYS[ko + 2], KEYS[ko + 3], KEYS[ko + 4], KEYS[ko + 5], KEYS[ko + 6])
            if value[KEYS[ko + 6]] <= now then return {'seed', 0, 0, -1, -1, 0, 0} end
            local nextmin = tonumber(ARGV[ao + 16]) - now
            -- Refused by one limit, the reply tells what is left of the other (for the x-ratelimit-remaining-* headers).
            if rpm >= 0 and value[KEYS[ko + 2]] >= rpm then
              return {'rate', 0, nextmin, 0, tpm >= 0 and math.max(0, tpm - value[KEYS[ko + 3]]) or -1, 0, 0}
            end
            if tpm >= 0 and value[KEYS[ko + 3]] + reserve > tpm then
              return {'rate', 0, nextmin, rpm >= 0 and math.max(0, rpm - value[KEYS[ko + 2]]) or -1, 0, 0, 0}
            end
            if par >= 0 and live(KEYS[ko + 1], after) >= par then return {'kpar', 0, 1000, -1, -1, 0, 0} end
            if quota >= 0 and value[KEYS[ko + 4]] + reserve > quota then return {'quota', 0, 0, -1, -1, 0, 0} end
            if budget >= 0 and value[KEYS[ko + 5]] + reservem > budget then return {'quota', 0, 0, -1, -1, 0, 0} end
          end
          local out = {}
          local chosen = 0
          local best = -1
          local busy = false
          local cool = -1
          for i = 1, n do
            local b = 6 + (i - 1) * 6
            local a = {{FixedArgs}} + (i - 1) * 3
            local c = live(KEYS[ko + b + 1], after)
            -- cooldown-until, rpm, tpm, ttft
            load(KEYS[ko + b + 3], KEYS[ko + b + 4], KEYS[ko + b + 5], KEYS[ko + b + 6])
            local rpmv = value[KEYS[ko + b + 4]]
            local tpmv = value[KEYS[ko + b + 5]]
            out[#out + 1] = c
            out[#out + 1] = seen[KEYS[ko + b + 6]]
            out[#out + 1] = tpmv
            out[#out + 1] = rpmv
            local untilms = value[KEYS[ko + b + 3]]
            if untilms > now then
              if cool < 0 or untilms < cool then cool = untilms end
            else
              local maxp = limit(ARGV[ao + a + 1])
              local drpm = limit(ARGV[ao + a + 2])
              local dtpm = limit(ARGV[ao + a + 3])
              local full = (maxp >= 0 and c >= maxp) or (drpm >= 0 and rpmv >= drpm) or (dtpm >= 0 and tpmv >= dtpm)
              if not full and belimit >= 0 and live(KEYS[ko + b + 2], after) >= belimit then full = true end
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
            zadd(KEYS[ko + b + 1], ARGV[ao + 3], lease, ARGV[ao + 15])
            -- The backend's lease set only matters to a per-backend limit.
            if belimit >= 0 then zadd(KEYS[ko + b + 2], ARGV[ao + 3], lease, ARGV[ao + 15]) end
            bump(KEYS[ko + b + 4], 1, true)
            local remreq = -1
            local remtok = -1
            local near = 0
            local plenty = 1
            if haskey then
              -- The key's lease set only matters to a parallel limit.
              if par >= 0 then zadd(KEYS[ko + 1], ARGV[ao + 3], rid, ARGV[ao + 15]) end
              local r = bump(KEYS[ko + 2], 1, true)
              local t = bump(KEYS[ko + 3], reserve, true)
              local q = bump(KEYS[ko + 4], reserve)
              local m = 0
              if reservem > 0 then m = bump(KEYS[ko + 5], reservem) end
              if ARGV[ao + 17] ~= '-1' then
                expireAfter(KEYS[ko + 4], ARGV[ao + 17])
                if reservem > 0 then expireAfter(KEYS[ko + 5], ARGV[ao + 17]) end
              end
              if rpm >= 0 then remreq = math.max(0, rpm - r) end
              if tpm >= 0 then remtok = math.max(0, tpm - t) end
              -- What is left would not hold another request like this one: its settle matters to the next request.
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
          local more = tonumber(ARGV[ao + {{FixedArgs}}])
          local ids = ao + {{FixedArgs}} + n * 3
          results[#results + 1] = admit(ko, ao, ARGV[ao + 2], ARGV[ao + 18])
          for j = 1, more do
            results[#results + 1] = admit(ko, ao, ARGV[ids + 2 * j - 1], ARGV[ids + 2 * j])
          end
          ko = ko + 6 + n * 6
          ao = ids + 2 * more
        end
        write()
        return results
        """);

    /// <summary>
    /// Settles one or more requests in one call (those that finished while the previous call was on its way).
    /// Per request, <see cref="SettleKeys"/> KEYS (sent once for settles in a row that share them, see the last ARGV): leases, backend leases, key leases, key tpm (admission minute), key
    /// quota, key budget, deployment tpm (now), failures, cooldown-until, ttft, key rpm (admission minute), deployment rpm
    /// (admission minute); and <see cref="SettleArgs"/> ARGV: lease id ('' = no deployment slot), has key?, token delta,
    /// micros delta, actual tokens, failed?, now, allowed fails, failure window ms, cooldown ms, ttft ms (-1 none),
    /// key lease member ('' = none: the key has no parallel limit), released? (1: an unused spare, whose request counts
    /// are given back too), on backend? (1: the lease is in the backend's set too), keys of its own? (1: its KEYS follow
    /// the previous settle's; 0: it has the previous settle's, sent once for both). Counters never go below
    /// zero, even when Redis lost the reservation being corrected. Returns the positions (from 1) of the settles whose
    /// failure started a cooldown.
    /// </summary>
    public const int SettleKeys = 12;
    public const int SettleArgs = 15;

    public static readonly RedisScript Settle = new($$"""
        {{Batched}}
        local zrems, zremKeys = {}, {}
        -- The time to first token each deployment has after this call (an average weighted to recent requests).
        local ttfts, ttftKeys = {}, {}
        local function settle(ko, ao)
          local slot = ARGV[ao + 1] ~= ''
          if slot then
            gather(zrems, zremKeys, KEYS[ko + 1], ARGV[ao + 1])
            if ARGV[ao + 14] == '1' then gather(zrems, zremKeys, KEYS[ko + 2], ARGV[ao + 1]) end
          end
          local released = ARGV[ao + 13] == '1'
          if ARGV[ao + 2] == '1' then
            if ARGV[ao + 12] ~= '' then gather(zrems, zremKeys, KEYS[ko + 3], ARGV[ao + 12]) end
            local d = tonumber(ARGV[ao + 3])
            bump(KEYS[ko + 4], d, true)
            bump(KEYS[ko + 5], d)
            bump(KEYS[ko + 6], tonumber(ARGV[ao + 4]))
            if released then bump(KEYS[ko + 11], -1, true) end
          end
          if not slot then return end
          if released then bump(KEYS[ko + 12], -1, true) end
          local tokens = tonumber(ARGV[ao + 5])
          if tokens > 0 then bump(KEYS[ko + 7], tokens, true) end
          local now = tonumber(ARGV[ao + 7])
          if ARGV[ao + 6] == '1' then
            local window = tonumber(ARGV[ao + 9])
            redis.call('ZADD', KEYS[ko + 8], ARGV[ao + 7], ARGV[ao + 1])
            redis.call('ZREMRANGEBYSCORE', KEYS[ko + 8], '-inf', now - window)
            redis.call('PEXPIRE', KEYS[ko + 8], window + 60000)
            if redis.call('ZCARD', KEYS[ko + 8]) >= tonumber(ARGV[ao + 8]) then
              local cooldown = tonumber(ARGV[ao + 10])
              redis.call('SET', KEYS[ko + 9], now + cooldown, 'PX', cooldown + 600000)
              redis.call('DEL', KEYS[ko + 8])
              return true
            end
          elseif tonumber(ARGV[ao + 11]) >= 0 then
            local k = KEYS[ko + 10]
            local old = ttfts[k]
            if old == nil then
              old = tonumber(redis.call('GET', k) or '-1')
              ttftKeys[#ttftKeys + 1] = k
            end
            local v = tonumber(ARGV[ao + 11])
            if old >= 0 then v = old * 0.8 + v * 0.2 end
            ttfts[k] = v
          end
        end
        local cooling = {}
        local ko = -{{SettleKeys}}
        for r = 0, #ARGV / {{SettleArgs}} - 1 do
          local ao = r * {{SettleArgs}}
          if ARGV[ao + {{SettleArgs}}] == '1' then ko = ko + {{SettleKeys}} end
          if settle(ko, ao) then cooling[#cooling + 1] = r + 1 end
        end
        for _, k in ipairs(zremKeys) do spread('ZREM', k, nil, zrems[k]) end
        writeCounters()
        for _, k in ipairs(ttftKeys) do redis.call('SET', k, tostring(ttfts[k]), 'PX', 3600000) end
        return cooling
        """);

    /// <summary>
    /// KEYS: seeded marker, quota, budget, key rpm (this minute), key tpm (this minute). ARGV: period tokens, period
    /// micros, minute requests, minute tokens, counter ttl ms (-1: none), now ms, seeded-until ms. The marker holds
    /// "seeded until" (caller's clock); while it holds, a later seed (another replica racing, a retry) changes
    /// nothing, so usage is never counted twice. Each counter becomes the larger of what it holds and what was
    /// recorded, never their sum: a seed after a guess (Postgres was away) or after requests were counted outside Redis
    /// finds counters that already hold requests the recorded usage holds too.
    /// </summary>
    public static readonly RedisScript Seed = new("""
        if tonumber(redis.call('GET', KEYS[1]) or '0') > tonumber(ARGV[6]) then return 0 end
        redis.call('SET', KEYS[1], ARGV[7])
        local ttl = tonumber(ARGV[5])
        if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
        local function atLeast(k, v)
          if tonumber(v) > tonumber(redis.call('GET', k) or '0') then redis.call('SET', k, v, 'KEEPTTL') end
        end
        atLeast(KEYS[2], ARGV[1])
        atLeast(KEYS[3], ARGV[2])
        atLeast(KEYS[4], ARGV[3])
        redis.call('PEXPIRE', KEYS[4], 120000)
        atLeast(KEYS[5], ARGV[4])
        redis.call('PEXPIRE', KEYS[5], 120000)
        if ttl > 0 then
          redis.call('PEXPIRE', KEYS[2], ttl)
          redis.call('PEXPIRE', KEYS[3], ttl)
        end
        return 1
        """);

    /// <summary>
    /// KEYS: seeded markers; ARGV: seeded-until ms. Brings each marker that holds longer forward to that time, so the
    /// key's next admission after it asks for a seed from recorded usage (a key counted outside Redis meanwhile). A
    /// missing marker (Redis lost its state) already asks.
    /// </summary>
    public static readonly RedisScript Reseed = new("""
        for i = 1, #KEYS do
          if tonumber(redis.call('GET', KEYS[i]) or '0') > tonumber(ARGV[1]) then redis.call('SET', KEYS[i], ARGV[1], 'KEEPTTL') end
        end
        return #KEYS
        """);

    /// <summary>
    /// KEYS: lease sets; ARGV: expiry, rebuild?, set ttl, now, then one lease id per key. Renews (or, after Redis lost
    /// its state, re-adds) leases, and sweeps out of each set the leases that expired (a crashed replica's).
    /// </summary>
    public static readonly RedisScript Renew = new($$"""
        {{PerKey}}
        -- One ZADD per lease set, with every lease renewed in it.
        local sets, order = {}, {}
        for i = 1, #KEYS do gather(sets, order, KEYS[i], ARGV[1], ARGV[i + 4]) end
        for _, k in ipairs(order) do
          if ARGV[2] == '1' then spread('ZADD', k, nil, sets[k]) else spread('ZADD', k, 'XX', sets[k]) end
          redis.call('ZREMRANGEBYSCORE', k, '-inf', ARGV[4])
          redis.call('PEXPIRE', k, ARGV[3])
        end
        return #KEYS
        """);
}
