using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using RelayCluster.Upstreams.Anthropic;
using RelayCluster.Upstreams.Simulator;

namespace RelayCluster.MockUpstream.Anthropic;

/// <summary>
/// MockUpstream's Anthropic mode: <c>POST /v1/messages</c> in Anthropic's wire format (named SSE events,
/// ping, usage in message_start and message_delta, cache counters, Anthropic error envelopes and 529),
/// steered by the same <c>[[sim …]]</c> directives as the OpenAI endpoints. Like the real API it insists on
/// <c>x-api-key</c>, <c>anthropic-version</c> and <c>max_tokens</c>, and refuses what the real API refuses
/// (<see cref="AnthropicMockLimits"/>), so a provider that forgets or passes through one fails here.
/// </summary>
public static class AnthropicMockApi
{
    /// <summary>
    /// Serves <c>/v1/messages</c> on a branch of its own, ahead of the OpenAI bearer-key check, because
    /// Anthropic clients authenticate with <c>x-api-key</c> instead.
    /// </summary>
    internal static IApplicationBuilder UseAnthropicMessages(this IApplicationBuilder app, SimulatorEngine engine, string? apiKey, MockFaults faults) =>
        app.MapWhen(c => c.Request.Path.Equals("/" + AnthropicWire.MessagesPath, StringComparison.Ordinal),
            branch => branch.Run(context =>
            {
                faults.Count();
                return ServeAsync(context, engine, apiKey);
            }));

    private static async Task ServeAsync(HttpContext context, SimulatorEngine engine, string? apiKey)
    {
        var requestId = "req_" + Guid.NewGuid().ToString("N");
        context.Response.Headers["request-id"] = requestId;
        if (!HttpMethods.IsPost(context.Request.Method))
        {
            await ErrorAsync(context, 405, "Only POST is allowed here.", requestId);
            return;
        }

        if (!string.IsNullOrEmpty(apiKey) && context.Request.Headers["x-api-key"] != apiKey)
        {
            await ErrorAsync(context, 401, "invalid x-api-key", requestId);
            return;
        }

        if (string.IsNullOrEmpty(context.Request.Headers["anthropic-version"]))
        {
            await ErrorAsync(context, 400, "anthropic-version: header is required", requestId);
            return;
        }

        JsonObject? body = null;
        try
        {
            body = await JsonSerializer.DeserializeAsync<JsonObject>(context.Request.Body, cancellationToken: context.RequestAborted);
        }
        catch (JsonException)
        {
            // answered below, as an unparsable body
        }

        var problem = body is null ? "The request body is not valid JSON." : Invalid(body);
        if (body is null || problem is not null)
        {
            await ErrorAsync(context, 400, problem!, requestId);
            return;
        }

        var simulatorBody = AnthropicMockAnswer.SimulatorBody(body);
        var script = engine.ScriptFor(simulatorBody);
        if (script.ErrorStatus is { } status)
        {
            if (script.RetryAfterSeconds is { } seconds)
            {
                context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            }

            await ErrorAsync(context, status, status == 529 ? "Overloaded" : $"Simulated upstream error {status}.", requestId);
            return;
        }

        var answer = AnthropicMockAnswer.Plan(body, simulatorBody, engine, script);
        if (body["stream"] is not JsonValue s || !s.TryGetValue<bool>(out var stream) || !stream)
        {
            await engine.DelayAsync(script.TimeToFirstTokenMs + (script.TokenIntervalMs * Math.Max(0, answer.Tokens.Length - 1)), context.RequestAborted);
            await WriteJsonAsync(context, 200, answer.Message());
            return;
        }

        context.Response.ContentType = "text/event-stream; charset=utf-8";
        context.Response.Headers.CacheControl = "no-cache";
        await context.Response.StartAsync(context.RequestAborted);
        try
        {
            await AnthropicMockStream.WriteAsync(context.Response.Body, answer, engine, script, context.RequestAborted);
        }
        catch (SimulatedDropException)
        {
            context.Abort();
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away: nothing to finish.
        }
    }

    /// <summary>What the real API would refuse with a 400 that the provider is expected to prevent.</summary>
    private static string? Invalid(JsonObject body)
    {
        if (body["model"] is not JsonValue model || !model.TryGetValue<string>(out _))
        {
            return "model: Field required";
        }

        if (body["max_tokens"] is not JsonValue max || !max.TryGetValue<long>(out var cap) || cap < 1)
        {
            return "max_tokens: Field required";
        }

        if (body["messages"] is not JsonArray { Count: > 0 } messages)
        {
            return "messages: at least one message is required";
        }

        if (AnthropicMockLimits.Invalid(body) is { } problem)
        {
            return problem;
        }

        // Every tool_result must answer a tool_use the assistant made earlier in the conversation.
        var toolUses = new HashSet<string>(StringComparer.Ordinal);
        foreach (var block in messages.SelectMany(m => m?["content"] as JsonArray ?? []))
        {
            switch ((string?)block?["type"])
            {
                case "tool_use":
                    toolUses.Add((string?)block!["id"] ?? "");
                    break;
                case "tool_result" when !toolUses.Contains((string?)block!["tool_use_id"] ?? ""):
                    return $"messages: tool_result block(s) provided when previous message does not contain tool_use block '{(string?)block["tool_use_id"]}'";
            }
        }

        return null;
    }

    private static Task ErrorAsync(HttpContext context, int status, string message, string requestId) =>
        WriteJsonAsync(context, status, AnthropicWire.ErrorBody(AnthropicWire.ErrorType(status), message, requestId));

    private static Task WriteJsonAsync(HttpContext context, int status, byte[] body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = body.Length;
        return context.Response.Body.WriteAsync(body, context.RequestAborted).AsTask();
    }
}
