-- POST /get: one entry (`-- TOKEN SITE`) or every entry (`-- TOKEN`).
-- The request is the same every time, so wrk builds it once (no request()).
-- Also sent to bench-bare, the ceiling, with the same headers and body.
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(here .. "common.lua")

function init(args)
  vaultd_request(args[1] or "none")
  if args[2] and args[2] ~= "" then
    wrk.body = '{"site":"' .. args[2] .. '"}'
  else
    wrk.body = "{}"
  end
end
