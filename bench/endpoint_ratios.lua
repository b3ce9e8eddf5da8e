-- wrk script of bench/endpoint_ratios.py (which appends benchlib.WRK_REPORT: it counts
-- every status but 200, the one all measured calls answer, as bad).
-- Arguments: method, path ({id}: the next title id), auth 1/0, tokens file, ids file.
local method, template, auth = "GET", "/", false
local tokens, ids = {}, {}
local scores = {"0.5", "1.0", "1.5", "2.0", "2.5", "3.0", "3.5", "4.0", "4.5", "5.0"}
local n = 0

function init(args)
  method, template, auth = args[1], args[2], args[3] == "1"
  for line in io.lines(args[4]) do tokens[#tokens + 1] = line end
  for line in io.lines(args[5]) do ids[#ids + 1] = line end
  init_counts()
  n = tid * 7919
end

function request()
  n = n + 1
  local path = template:gsub("{id}", ids[n % #ids + 1])
  local headers, body = {}, nil
  if auth then headers["Authorization"] = "Bearer " .. tokens[n % #tokens + 1] end
  if method ~= "GET" then
    headers["Content-Type"] = "application/json"
    body = '{"score": ' .. scores[math.floor(n / #tokens) % #scores + 1] .. '}'
  end
  return wrk.format(method, path, headers, body)
end
