-- wrk script: write.lua at an offered rate: each connection waits DELAY_MS before each request
-- (bench/write_path.py, the sustained scenario: connections x 1000 / (DELAY_MS + latency) req/s).
--   wrk ... -s paced.lua URL -- BODIES_FILE AUTHORIZATION EXPECT DELAY_MS
-- Everything else (bodies, failures, the JSON line for bench/run.py) is write.lua's, loaded
-- from beside this file.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "write.lua")

local write_init = init

function init(args)
    write_init(args)
    pause = tonumber(args[4])
end

function delay()
    return pause
end
