using System.Diagnostics;

namespace RelayCluster.Bench;

/// <summary>
/// Saturating load: a fixed number of workers, each sending its next request as soon as the previous
/// one is answered. Measures the most the system serves at that concurrency, not latency at a rate.
/// </summary>
internal static class ClosedLoop
{
    public static Task RunAsync(HttpProbe probe, SampleSink sink, int concurrency, TimeSpan duration)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var workers = new Task[concurrency];
        for (var i = 0; i < concurrency; i++)
        {
            workers[i] = Task.Run(async () =>
            {
                while (Stopwatch.GetTimestamp() < deadline)
                {
                    sink.Record(await probe.SendAsync(sink.Target));
                }
            });
        }

        return Task.WhenAll(workers);
    }
}
