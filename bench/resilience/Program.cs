using System.Diagnostics;
using System.Text.Json.Nodes;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Wire;
using RelayCluster.Upstreams;
using RelayCluster.Upstreams.Resilience;

// What the resilience pipeline adds to a call that succeeds at once: the bare provider against the same
// provider behind ResilientProvider, in one process, alternating rounds so drift weighs on both alike.
// Each call is SendAsync + one body read + DisposeAsync, the minimum the relay does with an answer.
var rounds = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 10;
var perRound = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 200_000;

var bare = new ImmediateProvider();
var options = new ProviderOptions { Type = ProviderTypes.OpenAi, BaseUrl = "http://127.0.0.1:1/v1" };
using var resilient = ResilientProvider.For(new ImmediateProvider(), options, TimeProvider.System);
var request = new UpstreamRequest(RelayOperation.ChatCompletions, new JsonObject { ["model"] = "m" }, Stream: true);

// Warm-up: tiered JIT and PGO settle after some tens of thousands of calls.
await MeasureAsync(bare, request, 100_000);
await MeasureAsync(resilient, request, 100_000);

var bareNs = new List<double>();
var resilientNs = new List<double>();
Console.WriteLine($"{Environment.ProcessorCount} cores, .NET {Environment.Version}, {rounds} rounds x {perRound:N0} calls each");
Console.WriteLine("round  bare ns/call  resilient ns/call  added ns  bare B/call  resilient B/call");
for (var round = 0; round < rounds; round++)
{
    var first = round % 2 == 0;
    var (b, bBytes) = first ? await MeasureAsync(bare, request, perRound) : default;
    var (r, rBytes) = await MeasureAsync(resilient, request, perRound);
    if (!first)
    {
        (b, bBytes) = await MeasureAsync(bare, request, perRound);
    }

    bareNs.Add(b);
    resilientNs.Add(r);
    Console.WriteLine($"{round,5}  {b,12:0}  {r,17:0}  {r - b,8:0}  {bBytes,11:0}  {rBytes,16:0}");
}

var added = resilientNs.Zip(bareNs, (r, b) => r - b).Order().ToList();
Console.WriteLine($"added per call: median {added[added.Count / 2] / 1000:0.00} µs, min {added[0] / 1000:0.00} µs, max {added[^1] / 1000:0.00} µs (target <= 50 µs)");
Console.WriteLine($"health: {resilient.GetHealth()}");

static async Task<(double NsPerCall, double BytesPerCall)> MeasureAsync(IUpstreamProvider provider, UpstreamRequest request, int calls)
{
    var buffer = new byte[64];
    var bytesBefore = GC.GetTotalAllocatedBytes(precise: false);
    var clock = Stopwatch.StartNew();
    for (var i = 0; i < calls; i++)
    {
        var response = await provider.SendAsync(request, CancellationToken.None);
        if (await response.Body.ReadAsync(buffer) == 0)
        {
            throw new InvalidOperationException("empty body");
        }
        await response.DisposeAsync();
    }

    var elapsed = clock.Elapsed;
    var bytes = GC.GetTotalAllocatedBytes(precise: false) - bytesBefore;
    return (elapsed.TotalNanoseconds / calls, bytes / (double)calls);
}

/// <summary>An upstream that answers at once with a tiny body: all that is measured is the pipeline around it.</summary>
internal sealed class ImmediateProvider : IUpstreamProvider
{
    private static readonly byte[] Body = "data: [DONE]\n\n"u8.ToArray();

    public string Id => "immediate";

    public ValueTask<UpstreamResponse> SendAsync(UpstreamRequest request, CancellationToken cancellationToken) =>
        ValueTask.FromResult(new UpstreamResponse(200, new MemoryStream(Body, writable: false), null, null));
}
