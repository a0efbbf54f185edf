-- wrk script: write.lua at an offered rate: each connection waits DELAY_MS before each request
-- (bench/write_path.py, the sustained scenario: connections x 1000 / (DELAY_MS + latency) req/s).
--   wrk ... -s paced.lua URL -- BODIES_FILE AUTHORIZATION EXPECT DELAY_MS
-- Every answer that is not 201 (or, when EXPECT is given, whose body lacks EXPECT, e.g.
-- '"accepted":100') is a failure. done() prints one JSON line for bench/run.py.
local threads = {}
local counter = 0

function setup(thread)
    counter = counter + 1
    thread:set("id", counter)
    table.insert(threads, thread)
end

function init(args)
    local path, authorization, expect_arg = args[1], args[2], args[3]
    pause = tonumber(args[4])
    expect = expect_arg
    if expect == "" then expect = nil end
    local headers = {["Content-Type"] = "application/json", ["Authorization"] = authorization}
    requests = {}
    for line in io.lines(path) do
        if #line > 0 then
            requests[#requests + 1] = wrk.format("POST", wrk.path, headers, line)
        end
    end
    -- Threads start at different places in the cycle.
    index = ((id - 1) * 7919) % #requests
    ok, failed = 0, 0
    statuses = {}
end

function delay()
    return pause
end

function request()
    index = index % #requests + 1
    return requests[index]
end

function response(status, headers, body)
    if status == 201 and (expect == nil or string.find(body, expect, 1, true)) then
        ok = ok + 1
    else
        failed = failed + 1
        statuses[status] = (statuses[status] or 0) + 1
    end
end

function done(summary, latency, requests)
    local ok_total, failed_total, by_status = 0, 0, {}
    for _, thread in ipairs(threads) do
        ok_total = ok_total + thread:get("ok")
        failed_total = failed_total + thread:get("failed")
        for code, n in pairs(thread:get("statuses")) do
            by_status[tostring(code)] = (by_status[tostring(code)] or 0) + n
        end
    end
    local parts = {}
    for code, n in pairs(by_status) do parts[#parts + 1] = string.format('"%s":%d', code, n) end
    local e = summary.errors
    io.write(string.format(
        'BENCH_JSON {"ok":%d,"failed":%d,"failed_by_status":{%s},"requests":%d,"duration_us":%d,' ..
        '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
        '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f}}\n',
        ok_total, failed_total, table.concat(parts, ","), summary.requests, summary.duration,
        e.connect, e.read, e.write, e.status, e.timeout,
        latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
        latency.max, latency.mean))
end
