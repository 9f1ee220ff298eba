using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.SignalR;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Http;
using RelayCluster.Silo.Relay;

namespace RelayCluster.Silo.Streams;

/// <summary>
/// <c>/hubs/completions</c>: an app holding a tenant key (server side; browsers use subscribe tokens on
/// <c>/hubs/streams</c> instead) starts a chat completion over SignalR. <c>Complete(request)</c> takes the
/// body of <c>POST /v1/chat/completions</c> and streams its chunks, with the same validation, admission,
/// limits, metering and settling as HTTP; a refusal or failure arrives as one last error item.
/// </summary>
internal sealed class CompletionsHub(TenantCache tenants, ModelCalls calls, RelayPipeline pipeline, TimeProvider time, IServiceProvider services) : Hub
{
    private const string KeyItem = "tenant-key";

    public override async Task OnConnectedAsync()
    {
        // The authentication middleware has already refused a missing or unknown key with a 401.
        var request = Context.GetHttpContext()!.Request;
        Context.Items[KeyItem] = TenantAuthenticationMiddleware.BearerToken(request);
        await base.OnConnectedAsync();
    }

    public async IAsyncEnumerable<JsonElement> Complete(JsonElement request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // The key is looked up again for every call, so a key revoked while connected stops working at once.
        var tenant = await tenants.FindByKeyAsync((string)Context.Items[KeyItem]!);
        if (tenant is null)
        {
            yield return HubSink.ErrorItem(RelayError.InvalidApiKey("(revoked)"));
            yield break;
        }

        var requestId = "req_" + Guid.NewGuid().ToString("N");
        var start = await calls.StartAsync(tenant, RelayOperation.ChatCompletions, AsStream(request), requestId, CallLane.Interactive);
        if (start.Call is not { } call)
        {
            yield return HubSink.ErrorItem(start.Refusal!);
            yield break;
        }

        // Cancelled when the reader stops early for any reason, so the relay never waits on a full queue.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var connection = Context;
        var deadline = new SendDeadline(SendDeadline.Timeout(services), time, () =>
            {
                // A client that takes nothing is treated as gone, as over HTTP: the call ends, and so does its connection.
                stop.Cancel();
                connection.Abort();
            },
            services.GetRequiredService<ILogger<SendDeadline>>(), requestId, stop.Token);
        var sink = new HubSink(deadline, stop.Token);
        var relaying = RelayAsync(call, sink);
        try
        {
            await foreach (var item in sink.Items.ReadAllAsync(cancellationToken))
            {
                yield return item;
            }
        }
        finally
        {
            await stop.CancelAsync();
            await relaying;
        }
    }

    private async Task RelayAsync(ModelCall call, HubSink sink)
    {
        using (call)
        {
            try
            {
                await pipeline.RunAsync(call, sink, () =>
                    new StreamingRelay(sink, call.Admitted, pipeline.Heartbeat, time, null).RelayAsync(call));
            }
            finally
            {
                sink.Close();
            }
        }
    }

    /// <summary>The hub always streams: the request is the HTTP body with <c>stream</c> forced on.</summary>
    private static ReadOnlyMemory<byte> AsStream(JsonElement request)
    {
        var raw = System.Text.Encoding.UTF8.GetBytes(request.GetRawText());
        if (StrictJson.ParseObject(raw).Object is not { } body)
        {
            return raw; // the parser says what is wrong with it (a repeated key or a lone surrogate would throw below)
        }

        body["stream"] = true;
        return System.Text.Encoding.UTF8.GetBytes(body.ToJsonString());
    }
}
