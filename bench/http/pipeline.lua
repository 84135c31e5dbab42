-- wrk script for bench/http/run: every connection sends its requests in batches of N
-- (default 16) written at once, and sends the next batch when all N answers are in.
--   wrk -s bench/http/pipeline.lua URL -- N
-- wrk counts each answer as a request and measures its latency from the batch's write.
init = function(args)
   local depth = tonumber(args[1]) or 16
   local batch = {}
   for i = 1, depth do
      batch[i] = wrk.format(nil)
   end
   req = table.concat(batch)
end

request = function()
   return req
end
