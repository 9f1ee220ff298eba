using System.Net;
using System.Net.Sockets;
using RelayCluster.Bench;

// `free-port` lets run.sh start the servers on ports nobody holds; `run` is the benchmark itself.
switch (args.FirstOrDefault())
{
    case "free-port":
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            Console.WriteLine(((IPEndPoint)listener.LocalEndpoint).Port);
        }

        return 0;

    case "run":
        // Socket completions run on the socket engine's thread instead of hopping to the thread pool:
        // one wake-up less per response, so less generator CPU and less of its own delay in each
        // timestamp (measured: ~25 % less generator CPU at 500/s). Read once, at the first socket.
        Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
        var settings = BenchSettings.Parse(args[1..]);
        using (var probe = new HttpProbe())
        using (var redis = settings.Redis is { } endpoint ? new RedisStats(endpoint) : null)
        using (var alloc = settings.Alloc.Count > 0 ? new AllocMeter(settings.Alloc, settings.AllocKey) : null)
        {
            var cpu = new CpuMeter(settings.Processes);
            var run = await new BenchPlan(settings, probe, cpu, redis, alloc).RunAsync();
            var report = Report.Write(settings, cpu.Names, run);
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(settings.Output))!);
            await File.WriteAllTextAsync(settings.Output, report);
            Console.Write(report);
        }

        return 0;

    default:
        Console.Error.WriteLine("usage: RelayCluster.Bench free-port | run (--relay URL | --relays name=URL,name=URL) --direct URL [--proxy URL] [--proxies URL+URL+…] [--redis HOST:PORT] [--redis-scripts DIR] [--trace-duration 1] [--rate 500] [--duration 15] [--warmup 3] "
            + "[--rounds 5] [--concurrency 64] [--closed-duration 15] [--closed-warmup 10] [--key KEY] [--pids name=pid,…] [--note TEXT]… [--out FILE] "
            + "[--closed-model MODEL] [--closed-rounds N] [--closed-first true] [--closed-streaming true] [--closed-proxy true] [--open-relays name,…] "
            + "[--alloc name=URL+URL,…] [--alloc-key KEY] [--verdicts relay|orleans|hotpath] [--summary FILE]");
        return 2;
}
