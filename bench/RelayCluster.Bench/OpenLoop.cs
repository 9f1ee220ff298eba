using System.Diagnostics;

namespace RelayCluster.Bench;

/// <summary>
/// Fixed-rate load: request i is due at start + i / rate whether or not earlier ones have finished,
/// so a slow response cannot hold back the next request and hide its own latency (coordinated
/// omission). A dedicated thread issues requests; it sleeps in 1 ms steps rather than spinning, since
/// a spinning generator would take a core from the system under test. How late each request actually
/// left is recorded as "send lag": it stays small as long as the generator keeps up.
/// </summary>
internal static class OpenLoop
{
    public static async Task RunAsync(HttpProbe probe, SampleSink sink, int rate, TimeSpan duration)
    {
        var count = (int)(rate * duration.TotalSeconds);
        var pending = new Task[count];
        var interval = (double)Stopwatch.Frequency / rate;
        await Task.Factory.StartNew(
            () =>
            {
                var start = Stopwatch.GetTimestamp();
                for (var i = 0; i < count; i++)
                {
                    var due = start + (long)(i * interval);
                    while (Stopwatch.GetTimestamp() < due)
                    {
                        Thread.Sleep(1);
                    }

                    // Runs synchronously up to the first await inside the handler, i.e. until the
                    // request is written: a few tens of microseconds against a 2 ms interval at 500/s.
                    pending[i] = SendOneAsync(probe, sink, due);
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);
        await Task.WhenAll(pending);
    }

    private static async Task SendOneAsync(HttpProbe probe, SampleSink sink, long due)
    {
        var lag = Stopwatch.GetTimestamp() - due;
        sink.Record(await probe.SendAsync(sink.Target), lag);
    }
}
