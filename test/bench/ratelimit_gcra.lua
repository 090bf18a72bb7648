-- test/bench/ratelimit_gcra.lua: the Redis peer of rate_limit() in the
-- ratelimit benchmark: the same GCRA, one TAT per key in microseconds.
-- KEYS[1] = key; ARGV = per_second, burst, cost.  Returns 1 (allowed) or 0.
-- Redis's TIME is the wall clock (redis-cell and most GCRA scripts use it).
local per_second = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local interval = 1000000 / per_second
local window = interval * burst
local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then
	tat = now
elseif tat - now > window then
	tat = now + window
end
local new_tat = tat + cost * interval
if cost <= burst and new_tat - now <= window then
	redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
	return 1
end
return 0
