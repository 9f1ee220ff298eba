using System.Text.Json.Nodes;
using RelayCluster.Core.Wire.Prompts;

namespace RelayCluster.Core.Wire;

/// <summary>
/// Validates a /v1 body into a <see cref="RelayRequest"/> or the OpenAI-style 400 that names the field.
/// Besides what the relay itself relies on, the documented types and ranges of OpenAI's parameters are checked
/// (<see cref="ChatParameters"/>, <see cref="MessageRules"/>); parameters it does not know are the upstream's to judge.
/// </summary>
public static class RequestParser
{
    private static readonly string[] Roles = ["system", "assistant", "user", "function", "tool", "developer"];

    /// <summary>
    /// Parses and checks a chat or embeddings body. Never throws for any input: malformed JSON (see
    /// <see cref="StrictJson"/>), wrong types, out-of-range numbers and over-long arrays all come back as the error.
    /// </summary>
    public static (RelayRequest? Request, RelayError? Error) Parse(RelayOperation operation, ReadOnlySpan<byte> body)
    {
        var (obj, invalid) = StrictJson.ParseObject(body);
        if (obj is null)
        {
            return (null, invalid);
        }

        if (obj["model"] is not { } modelNode)
        {
            return (null, RelayError.BadRequest("you must provide a model parameter", "model", "missing_required_parameter"));
        }

        if (!JsonKinds.IsString(modelNode) || modelNode.GetValue<string>().Length == 0)
        {
            return (null, RelayError.InvalidType("model", "a non-empty string", JsonKinds.Describe(modelNode)));
        }

        return operation == RelayOperation.ChatCompletions
            ? ParseChat(obj, modelNode.GetValue<string>())
            : ParseEmbeddings(obj, modelNode.GetValue<string>());
    }

    private static (RelayRequest?, RelayError?) ParseChat(JsonObject body, string model)
    {
        if (!body.TryGetPropertyValue("messages", out var messagesNode) || messagesNode is null)
        {
            return (null, RelayError.MissingParameter("messages"));
        }

        if (messagesNode is not JsonArray messages)
        {
            return (null, RelayError.InvalidType("messages", "an array", JsonKinds.Describe(messagesNode)));
        }

        if (messages.Count == 0)
        {
            return (null, RelayError.BadRequest(
                "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", "messages", "empty_array"));
        }

        if (RequestLimits.TooLong("messages", messages.Count, RequestLimits.MaxMessages) is { } tooManyMessages)
        {
            return (null, tooManyMessages);
        }

        var meter = new PromptMeter();
        for (var i = 0; i < messages.Count; i++)
        {
            if (messages[i] is not JsonObject message)
            {
                return (null, RelayError.InvalidType($"messages[{i}]", "an object", JsonKinds.Describe(messages[i])));
            }

            if (message["role"] is null)
            {
                return (null, RelayError.MissingParameter($"messages[{i}].role"));
            }

            if (ParameterRules.OneOf(message["role"], $"messages[{i}].role", Roles) is { } roleError)
            {
                return (null, roleError);
            }

            if (MessageRules.Check(message, i) is { } messageError)
            {
                return (null, messageError);
            }

            var contentError = MeasureContent(message["content"], $"messages[{i}].content", ref meter);
            if (contentError is not null)
            {
                return (null, contentError);
            }

            PromptParts.MeasureMessageFields(message, ref meter);

            // Tool calls and names are prompt text too when the conversation is replayed.
            if (message["tool_calls"] is { } calls)
            {
                if (ChatBounds.ToolCalls(calls, $"messages[{i}].tool_calls") is { } callsError)
                {
                    return (null, callsError);
                }

                meter.AddText(calls.ToJsonString());
            }
        }

        if (body["tools"] is { } tools)
        {
            if (tools is JsonArray toolList && RequestLimits.TooLong("tools", toolList.Count, RequestLimits.MaxTools) is { } tooManyTools)
            {
                return (null, tooManyTools);
            }

            meter.AddText(tools.ToJsonString());
        }

        if ((ChatBounds.Check(body) ?? ChatParameters.Check(body)) is { } boundError)
        {
            return (null, boundError);
        }

        PromptParts.MeasureDefinitions(body, ref meter);

        var (stream, streamError) = OptionalBool(body, "stream");
        if (streamError is not null)
        {
            return (null, streamError);
        }

        var includeUsage = false;
        if (body["stream_options"] is { } streamOptions)
        {
            if (streamOptions is not JsonObject optionsObject)
            {
                return (null, RelayError.InvalidType("stream_options", "an object", JsonKinds.Describe(streamOptions)));
            }

            if (!stream)
            {
                return (null, RelayError.BadRequest("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options", "invalid_value"));
            }

            (includeUsage, var usageError) = OptionalBool(optionsObject, "include_usage", "stream_options.include_usage");
            if (usageError is not null)
            {
                return (null, usageError);
            }
        }

        // The caps are judged against the model's output limit once the model is resolved (ModelCalls); here
        // only that they are positive integers. n is bounded as OpenAI bounds it.
        var (maxCompletion, e1) = OptionalPositiveInt(body, "max_completion_tokens", long.MaxValue);
        var (maxTokens, e2) = OptionalPositiveInt(body, "max_tokens", long.MaxValue);
        var (n, e3) = OptionalPositiveInt(body, "n", RequestLimits.MaxChoices);
        if ((e1 ?? e2 ?? e3) is { } numberError)
        {
            return (null, numberError);
        }

        return (new RelayRequest
        {
            Operation = RelayOperation.ChatCompletions,
            Body = body,
            Model = model,
            Stream = stream,
            IncludeUsage = includeUsage,
            MaxOutputTokens = maxCompletion ?? maxTokens,
            OutputCaps = OutputCapsOf(maxCompletion, maxTokens),
            Choices = n ?? 1,
            Prompt = meter.ToSize(messages.Count),
        }, null);
    }

    private static (RelayRequest?, RelayError?) ParseEmbeddings(JsonObject body, string model)
    {
        if (!body.TryGetPropertyValue("input", out var input) || input is null)
        {
            return (null, RelayError.MissingParameter("input"));
        }

        var meter = new PromptMeter();
        var items = 1;
        if (JsonKinds.IsString(input))
        {
            meter.AddText(input.GetValue<string>());
        }
        else if (input is JsonArray { Count: > RequestLimits.MaxEmbeddingInputs } tooMany)
        {
            return (null, RequestLimits.TooLong("input", tooMany.Count, RequestLimits.MaxEmbeddingInputs));
        }
        else if (input is JsonArray array && array.Count > 0)
        {
            items = array.Count;
            foreach (var item in array)
            {
                if (JsonKinds.IsString(item))
                {
                    meter.AddText(item!.GetValue<string>());
                }
                else if (JsonKinds.TryGetInt(item, out var id))
                {
                    if (id < 0)
                    {
                        return (null, NegativeTokenId(id));
                    }

                    meter.ExplicitTokens++;
                }
                else if (item is JsonArray tokens && tokens.Count <= RequestLimits.MaxEmbeddingTokenIds && tokens.All(t => JsonKinds.TryGetInt(t, out _)))
                {
                    // A token id is an index into the tokenizer's vocabulary: a negative one names no token.
                    if (tokens.FirstOrDefault(t => JsonKinds.TryGetInt(t, out var v) && v < 0) is { } negative)
                    {
                        return (null, NegativeTokenId(negative.GetValue<long>()));
                    }

                    meter.ExplicitTokens += tokens.Count;
                }
                else
                {
                    return (null, InvalidInput());
                }
            }
        }
        else
        {
            return (null, InvalidInput());
        }

        if (body["encoding_format"] is { } format
            && !(JsonKinds.IsString(format) && format.GetValue<string>() is "float" or "base64"))
        {
            return (null, RelayError.InvalidValue("encoding_format", "expected 'float' or 'base64'."));
        }

        var (_, dimensionsError) = OptionalPositiveInt(body, "dimensions", RequestLimits.MaxEmbeddingDimensions);
        if ((dimensionsError ?? ParameterRules.String(body["user"], "user")) is { } dimensionsOrUserError)
        {
            return (null, dimensionsOrUserError);
        }

        return (new RelayRequest
        {
            Operation = RelayOperation.Embeddings,
            Body = body,
            Model = model,
            MaxOutputTokens = 0,
            Prompt = meter.ToSize(items),
        }, null);
    }

    private static List<(string Param, long Value)> OutputCapsOf(long? maxCompletion, long? maxTokens)
    {
        var caps = new List<(string, long)>(2);
        if (maxCompletion is { } completion)
        {
            caps.Add(("max_completion_tokens", completion));
        }

        if (maxTokens is { } tokens)
        {
            caps.Add(("max_tokens", tokens));
        }

        return caps;
    }

    private static RelayError NegativeTokenId(long id) =>
        RelayError.InvalidValue("input", $"token ids must be integers of at least 0, but got {id}.");

    private static RelayError InvalidInput() => RelayError.InvalidValue(
        "input", "expected a non-empty string, an array of 1 to 2048 strings, an array of token ids, or an array of token-id arrays.");

    private static RelayError? MeasureContent(JsonNode? content, string param, ref PromptMeter meter)
    {
        switch (content)
        {
            case null:
                return null;
            case JsonValue when JsonKinds.IsString(content):
                meter.AddText(content.GetValue<string>());
                return null;
            case JsonArray parts:
                if (RequestLimits.TooLong(param, parts.Count, RequestLimits.MaxContentParts) is { } tooManyParts)
                {
                    return tooManyParts;
                }

                foreach (var part in parts)
                {
                    if (part is not JsonObject partObject)
                    {
                        return RelayError.InvalidType(param, "a string or an array of content parts", JsonKinds.Describe(part));
                    }

                    PromptParts.Measure(partObject, ref meter);
                }

                return null;
            default:
                return RelayError.InvalidType(param, "a string or an array of content parts", JsonKinds.Describe(content));
        }
    }

    private static (bool Value, RelayError? Error) OptionalBool(JsonObject body, string name, string? param = null)
    {
        var node = body[name];
        if (node is null)
        {
            return (false, null);
        }

        return JsonKinds.IsBool(node) ? (node.GetValue<bool>(), null) : (false, RelayError.InvalidType(param ?? name, "a boolean", JsonKinds.Describe(node)));
    }

    /// <summary>An integer from 1 to <paramref name="max"/>, worded as OpenAI words it (see <see cref="ParameterRules"/>).</summary>
    private static (long? Value, RelayError? Error) OptionalPositiveInt(JsonObject body, string name, long max) =>
        ParameterRules.Integer(body[name], name, 1, max);
}
