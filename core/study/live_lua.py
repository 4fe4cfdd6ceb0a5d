"""The Lua side of live study (``core.study.live``): one script per heartbeat, run atomically by
Redis, so a learner's beats are serialised there as they are under the database lock.

``DECIDE`` is ``core.study.credit.decide`` written out again in Lua for the beats that can be
decided without the database; tests/test_study_live.py checks with hypothesis that both give the
same credit for any state and beat (``LATE_MAX`` is the Python rule's constant). Numbers cross the
boundary as doubles in MessagePack (the test's entry point: as ``%.17g`` strings), so they
round-trip exactly.
"""

from core.study.credit import LATE_MAX

DECIDE = f"local LATE_MAX = {LATE_MAX!r}\n" + r"""
local function num(x) return string.format('%.17g', x) end

-- core.study.credit.decide, for a beat that is no anomaly on a page that was visible (BEAT leaves
-- hidden pages to the database path). Returns nil for an anomaly (a claim past what could have
-- been watched): the database path records and answers it.
local function decide(s, now, claimed, playing)
  local tol = s.tol
  local last, elapsed
  if s.last > 0 then
    last = math.max(s.last, now)
    elapsed = math.max(0, now - s.last)
  else
    last = now
    elapsed = 0
  end
  local advance = claimed - s.pos
  local ceiling = math.huge
  if s.began > 0 then ceiling = s.origin + math.max(0, now - s.began) end
  local reachable = math.min(math.max(s.far, s.pos + elapsed), s.dur, ceiling) + tol
  if claimed > reachable then return nil end
  local position = math.min(claimed, s.dur)
  local furthest = math.max(s.far, position)
  if (not playing) or advance <= 0 then
    return {seconds = 0, claimed = 0, reason = '', position = position, furthest = furthest, last = last}
  end
  local seconds = math.min(elapsed, advance)
  local reason = ''
  if advance - seconds > tol then reason = 'wall_clock' end
  local lesson_why = 'duration'
  if s.lcred >= s.dur - tol then lesson_why = 'lesson_complete' end
  local limits = {{s.dur - s.lcred, lesson_why}, {s.cap - s.dsec, 'daily_cap'}, {s.left, 'course_complete'}}
  for _, limit in ipairs(limits) do
    local room = math.max(0, limit[1])
    if seconds > room then
      seconds = room
      reason = limit[2]
    end
  end
  -- A late beat: the wall time its position did not use is left to the next one.
  if elapsed > advance then last = math.max(s.last, now - math.min(elapsed - advance, LATE_MAX)) end
  return {seconds = seconds, claimed = advance, reason = reason, position = position, furthest = furthest,
          last = last}
end
"""

# KEYS: none (a test entry point). ARGV: last, pos, far, lcred, dur, dsec, cap, left, tol, now,
# claimed, playing, began, origin. Returns {seconds, claimed, reason, position, furthest, last} or
# {"anomaly"}.
DECIDE_ONLY = DECIDE + r"""
local a = {}
for i = 1, 14 do a[i] = tonumber(ARGV[i]) end
local s = {last = a[1], pos = a[2], far = a[3], lcred = a[4], dur = a[5], dsec = a[6], cap = a[7],
           left = a[8], tol = a[9], began = a[13], origin = a[14]}
if ARGV[8] == 'inf' then s.left = math.huge end
local d = decide(s, a[10], a[11], ARGV[12] == '1')
if d == nil then return {'anomaly'} end
return {num(d.seconds), num(d.claimed), d.reason, num(d.position), num(d.furthest), num(d.last)}
"""

# One heartbeat. KEYS[1]: the session's key in the store; KEYS[2]: the dirty set.
# ARGV: 1 tenant slug, 2 state key prefix (+ account id), 3 pending key prefix (+ account id),
# 4 epoch key prefix (+ account id), 5 csrf cookie digest, 6 now, 7 wall clock, 8 idle timeout,
# 9 absolute timeout, 10 token, 11 seq, 12 lesson, 13 position, 14 playing, 15 event, 16 idle,
# 17 China date, 18 dirty member prefix (tenant id + ":"), 19 visible.
# The learner's state is one MessagePack map (``core.study.live_state.hydrate`` writes it): numbers
# stay doubles, with no formatting or parsing per beat. Returns {"slow", why[, account]} when the
# database path must answer, else {"ok", MessagePack array of the answer's figures}.
BEAT = DECIDE + r"""
local raw = redis.call('GET', KEYS[1])
if not raw then return {'slow', 'session'} end
local ok, data = pcall(cjson.decode, raw)
if not ok or type(data) ~= 'table' or data.tenant ~= ARGV[1] then return {'slow', 'session'} end
if data.csrf ~= nil and data.csrf ~= cjson.null and data.csrf ~= ARGV[5] then return {'slow', 'session'} end
local now = tonumber(ARGV[6])
local created = tonumber(data.created)
local account = tostring(data.account_id)
if (tonumber(ARGV[7]) - created) > tonumber(ARGV[9]) then return {'slow', 'session'} end
local epoch = redis.call('GET', ARGV[4] .. account)
if epoch and created < tonumber(epoch) then return {'slow', 'session'} end
redis.call('EXPIRE', KEYS[1], ARGV[8])

local key = ARGV[2] .. account
local packed = redis.call('GET', key)
if not packed then return {'slow', 'missing', account} end
local st = cmsgpack.unpack(packed)

-- The sequence number goes into the pending entry as sent: digits only, and small enough for the
-- ledger's integer column (anything else is the database path's to refuse).
local seq = nil
if string.match(ARGV[11], '^%d+$') and #ARGV[11] <= 9 then seq = tonumber(ARGV[11]) end
local claimed = tonumber(ARGV[13])
local event = ARGV[15]
if st.token ~= ARGV[10] or st.lesson ~= ARGV[12] or seq == nil or seq <= st.seq
   or (event ~= 'beat' and event ~= 'pause') then
  return {'slow', 'beat'}
end
if claimed == nil or claimed ~= claimed or claimed < 0 or claimed > 1e9 then return {'slow', 'beat'} end
if st.paused then return {'slow', 'paused'} end
-- A hidden page, or the first beat after one: the database path records the session's visibility.
if ARGV[19] ~= '1' or st.hidden then return {'slow', 'hidden'} end
if st.ticket ~= '' and now > st.due then return {'slow', 'ticket'} end
local idle = tonumber(ARGV[16]) or 0
local playing = ARGV[14] == '1'
if (idle >= st.idle_limit and playing and not st.idle_rep) or (idle < st.idle_limit and st.idle_rep) then
  return {'slow', 'idle'}
end

local day = ARGV[17]
if st.day ~= day then
  st.day = day
  st.dsec = 0
end
local studying = st.studying
if studying then st.left = math.max(0, st.needed - st.ecred) else st.left = 0 end
-- A pause beat reports where playback stopped: what played up to it counts.
local d = decide(st, now, claimed, playing or event == 'pause')
if d == nil then return {'slow', 'anomaly'} end
local studied = st.studied + d.seconds
if st.proctor and st.ticket == '' and st.next_at >= 0 and studied >= st.next_at then
  return {'slow', 'capture'}
end
if d.seconds > 0 and studying and st.ecred + d.seconds >= st.needed - 1e-6 then return {'slow', 'complete'} end
if st.proctor and not st.completed and d.furthest >= st.dur - st.tol then return {'slow', 'capture'} end

local position_from = st.pos
if d.furthest >= st.dur - st.tol then st.completed = true end
st.left = nil
st.seq = seq
st.last = d.last
st.pos = d.position
st.far = d.furthest
st.lcred = st.lcred + d.seconds
st.dsec = st.dsec + d.seconds
st.ecred = st.ecred + d.seconds
st.studied = studied
if st.proctor then st.prov = st.prov + d.seconds end
redis.call('SET', key, cmsgpack.pack(st), 'KEEPTTL')
-- What the database must hold after this beat (core.study.live.Entry, in this order).
local wall = tonumber(ARGV[7])
redis.call('RPUSH', ARGV[3] .. account, cmsgpack.pack({
  st.tenant, data.account_id, st.session_id, st.token, seq, st.enrollment, tonumber(st.lesson), st.progress_id,
  st.proctor_id, st.clock_id, d.claimed > 0 or d.reason ~= '', position_from, claimed, d.claimed, d.seconds,
  d.reason, wall, day, d.last, d.position, d.furthest, st.lcred, st.completed, st.dsec, st.ecred, st.studied,
  st.prov}))
redis.call('SADD', KEYS[2], ARGV[18] .. account)
local within = 0
if st.ticket ~= '' then within = math.max(0, st.due - now) end
return {'ok', cmsgpack.pack({data.account_id, d.seconds, d.claimed, d.reason, d.position, d.furthest, st.ecred,
                             st.lcred, st.completed, studying, st.status, st.needed, st.ticket, within})}
"""

# Park a learner: the state is dropped (the next beat rebuilds it from the database) and the
# beats not yet written are returned, to be written by the caller under the learner's lock.
# KEYS[1]: state, KEYS[2]: pending list.
PARK = r"""
redis.call('DEL', KEYS[1])
return redis.call('LRANGE', KEYS[2], 0, -1)
"""

# After a flush committed, for each of its learners: drop the pending entries up to and including
# the last one it wrote, and the learner from the dirty set when none is left. By the entry, not
# by a count: two flushers that read the same entries (a lease that lapsed during a long flush)
# must not drop the beats that arrived in between. Entries are unique (token and sequence number),
# leave the list only from its head, and one no longer there was dropped with all before it.
# KEYS[1]: the dirty set; ARGV[1]: the pending key prefix, then triples of (dirty member
# "<tenant>:<account>", number of entries read, the last entry read).
TRIM = r"""
for i = 2, #ARGV, 3 do
  local key = ARGV[1] .. ARGV[i]
  local head = {}
  if tonumber(ARGV[i + 1]) > 0 then head = redis.call('LRANGE', key, 0, tonumber(ARGV[i + 1]) - 1) end
  for j = #head, 1, -1 do
    if head[j] == ARGV[i + 2] then
      redis.call('LTRIM', key, j, -1)
      break
    end
  end
  if redis.call('LLEN', key) == 0 then redis.call('SREM', KEYS[1], ARGV[i]) end
end
return 0
"""
