-- wrk script: write.lua at a fixed offered rate, whatever the latency (bench/write_path.py, the
-- sustained scenario). Each thread hands out send times RATE per second apart; a connection
-- ready to send waits for the next free one, or sends at once when the schedule is behind (all
-- connections were busy). So the offered rate is RATE per thread as long as the connections
-- can carry it, where a fixed pause per connection would offer less as answers slowed.
--   wrk ... -s paced.lua URL -- BODIES_FILE AUTHORIZATION EXPECT RATE
-- Everything else (bodies, failures, the JSON line for bench/run.py) is write.lua's, loaded
-- from beside this file. The clock is clock_gettime(CLOCK_MONOTONIC) through LuaJIT's FFI.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "write.lua")

local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } paced_timespec;
int clock_gettime(int clock_id, paced_timespec *tp);
]]
local clock = ffi.new("paced_timespec")
local CLOCK_MONOTONIC = 1

local function now_ms()
    ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
    return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local write_init = init

function init(args)
    write_init(args)
    interval = 1000 / tonumber(args[4])  -- ms between two sends of this thread
    next_at = nil
end

function delay()
    local now = now_ms()
    if next_at == nil then next_at = now end
    local wait = next_at - now
    next_at = next_at + interval
    if wait < 0 then return 0 end
    return wait
end
