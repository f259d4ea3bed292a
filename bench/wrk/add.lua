-- POST /add with a new site every time: `-- TOKEN PREFIX`. PREFIX must be
-- unique per run (bench-http passes the backend, connections and a time);
-- threads number themselves in setup(), so sites never repeat.
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(here .. "common.lua")

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local prefix, n
function init(args)
  vaultd_request(args[1] or "none")
  -- 43 characters, the length of a base64url keyed hash of the site.
  prefix = string.format("%s-%d-", args[2] or "add", tid or 0)
  n = 0
end

function request()
  n = n + 1
  local site = prefix .. string.format("%09d", n)
  site = site .. string.rep("x", 43 - #site)
  return wrk.format(nil, nil, nil,
    '{"site":"' .. site .. '","username":"' .. USERNAME ..
    '","password":"' .. PASSWORD .. '"}')
end
