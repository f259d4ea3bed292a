-- POST /sync (`-- TOKEN SINCE`): what changed after SINCE. With SINCE one
-- below the user's seq, the answer holds one entry: the one-change sync,
-- whose cost must not grow with the size of the vault.
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(here .. "common.lua")

function init(args)
  vaultd_request(args[1] or "none")
  wrk.body = '{"since":' .. (args[2] or "0") .. '}'
end
