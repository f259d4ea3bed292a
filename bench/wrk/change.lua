-- POST /change without `version` (last writer wins, never 409), cycling
-- over COUNT existing sites PREFIX-0000 .. : `-- TOKEN PREFIX COUNT`.
-- The password alternates so that every write really changes the row.
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(here .. "common.lua")

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local bodies, i
function init(args)
  vaultd_request(args[1] or "none")
  local prefix, count = args[2] or "chg", tonumber(args[3] or "1")
  bodies = {}
  for k = 0, count - 1 do
    local site = string.format("%s-%04d", prefix, k)
    for _, p in ipairs({PASSWORD, PASSWORD:reverse()}) do
      bodies[#bodies + 1] = wrk.format(nil, nil, nil,
        '{"site":"' .. site .. '","password":"' .. p .. '"}')
    end
  end
  -- Threads start at different places in the cycle.
  i = ((tid or 1) - 1) * 7
end

function request()
  i = i % #bodies + 1
  return bodies[i]
end
