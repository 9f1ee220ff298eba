using System.Text.Json;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Http;
using RelayCluster.Silo.Relay;

namespace RelayCluster.Silo.Api;

/// <summary>
/// <c>POST /v1/batch</c>: up to <see cref="SyncBatchOptions.MaxRequests"/> chat completions and embeddings calls in
/// one round trip, each run and billed exactly as if it had been sent alone, answered together in input order.
/// </summary>
public static class SyncBatchApi
{
    public static IEndpointRouteBuilder MapSyncBatchApi(this IEndpointRouteBuilder app)
    {
        // The handler writes the response itself, embedding each upstream body as the bytes it came in.
        app.MapPost("/v1/batch", HandleAsync);
        return app;
    }

    private static async Task HandleAsync(HttpContext context, RelayOptions options, ModelCalls calls, TimeProvider time, ILogger<SyncBatchRunner> logger)
    {
        var (body, bodyError) = await BodyReader.ReadAsync(context.Request, options.Requests.MaxBodyBytes);
        if (bodyError is null && await calls.PrecheckAsync(context.Tenant(), body.Length, CallLane.Interactive) is { } early)
        {
            if (early.Admission is { } refused)
            {
                RateLimitHeaders.Write(context.Response, refused.Window);
            }

            await ErrorResponses.WriteAsync(context, early.Refusal!);
            return;
        }

        var (items, batchError) = bodyError is null ? SyncBatchParser.Parse(body, options.SyncBatch.MaxRequests) : (null, bodyError);
        if (items is null)
        {
            await ErrorResponses.WriteAsync(context, batchError!);
            return;
        }

        SyncBatchResult[] results;
        try
        {
            results = await new SyncBatchRunner(calls, time, logger)
                .RunAsync(context.Tenant(), items, options.SyncBatch.Concurrency, options.Requests.MaxResponseBytes, context.RequestAborted);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return; // the caller left; every admitted item has been settled as client_disconnected
        }

        await WriteAsync(context.Response, results, context.RequestAborted);
    }

    /// <summary>
    /// Writes <c>{"object":"batch.result","results":[...]}</c> straight to the response pipe. Each upstream body
    /// goes in with <c>WriteRawValue</c>: what the caller reads is byte for byte what the upstream sent.
    /// </summary>
    private static async Task WriteAsync(HttpResponse response, SyncBatchResult[] results, CancellationToken cancellationToken)
    {
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json";
        var pipe = response.BodyWriter;
        using var writer = new Utf8JsonWriter(pipe);
        writer.WriteStartObject();
        writer.WriteString("object", "batch.result");
        writer.WriteStartArray("results");
        foreach (var result in results)
        {
            WriteResult(writer, result);

            // Send each result as it is written, so a large answer is never held whole in memory.
            writer.Flush();
            await pipe.FlushAsync(cancellationToken);
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
        writer.Flush();
        await pipe.FlushAsync(cancellationToken);
    }

    private static void WriteResult(Utf8JsonWriter writer, SyncBatchResult result)
    {
        writer.WriteStartObject();
        writer.WriteNumber("index", result.Index);
        writer.WriteString("custom_id", result.CustomId); // null writes null
        writer.WriteString("request_id", result.RequestId);
        writer.WriteNumber("status", result.Status);
        writer.WriteNumber("latency_ms", Math.Round(result.LatencyMs, 3));
        writer.WritePropertyName("response");
        if (result.Response is { } body)
        {
            writer.WriteRawValue(body, skipInputValidation: true); // checked to be one JSON value by the runner
        }
        else
        {
            writer.WriteNullValue();
        }

        writer.WritePropertyName("error");
        if (result.Error is { } error)
        {
            WriteError(writer, error);
        }
        else
        {
            writer.WriteNullValue();
        }

        writer.WriteEndObject();
    }

    private static void WriteError(Utf8JsonWriter writer, OpenAiError error)
    {
        writer.WriteStartObject();
        writer.WriteString("message", error.Message);
        writer.WriteString("type", error.Type);
        writer.WriteString("param", error.Param);
        writer.WriteString("code", error.Code);
        writer.WriteEndObject();
    }
}
