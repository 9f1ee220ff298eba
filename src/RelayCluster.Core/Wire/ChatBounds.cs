using System.Text.Json.Nodes;

namespace RelayCluster.Core.Wire;

/// <summary>
/// The counts OpenAI bounds on chat parameters the relay otherwise passes through untouched (<c>stop</c>,
/// <c>metadata</c>, <c>logit_bias</c>): a hostile body cannot make the relay forward, log or measure hundreds of
/// thousands of them. Each refusal is a 400 naming the parameter.
/// </summary>
public static class ChatBounds
{
    /// <summary>Stop sequences per request (OpenAI: a string or up to 4 strings).</summary>
    public const int MaxStopSequences = 4;

    /// <summary>Key-value pairs of <c>metadata</c> (OpenAI: 16).</summary>
    public const int MaxMetadataPairs = 16;

    /// <summary>Characters of a <c>metadata</c> key (OpenAI: 64).</summary>
    public const int MaxMetadataKeyLength = 64;

    /// <summary>Characters of a <c>metadata</c> value, which must be a string (OpenAI: 512).</summary>
    public const int MaxMetadataValueLength = 512;

    /// <summary>Token biases in <c>logit_bias</c> (OpenAI: 300).</summary>
    public const int MaxLogitBias = 300;

    /// <summary>The first bound <paramref name="body"/> breaks, as a 400 naming the parameter, or null.</summary>
    public static RelayError? Check(JsonObject body) => Stop(body["stop"]) ?? Metadata(body["metadata"]) ?? LogitBias(body["logit_bias"]);

    /// <summary><c>tool_calls</c> of one message: an array of at most <see cref="RequestLimits.MaxToolCalls"/>.</summary>
    public static RelayError? ToolCalls(JsonNode? calls, string param) => calls switch
    {
        null => null,
        JsonArray list => RequestLimits.TooLong(param, list.Count, RequestLimits.MaxToolCalls),
        _ => RelayError.InvalidType(param, "an array", JsonKinds.Describe(calls)),
    };

    private static RelayError? Stop(JsonNode? stop)
    {
        switch (stop)
        {
            case null:
            case JsonValue when JsonKinds.IsString(stop):
                return null;
            case JsonArray sequences:
                if (RequestLimits.TooLong("stop", sequences.Count, MaxStopSequences) is { } tooMany)
                {
                    return tooMany;
                }

                for (var i = 0; i < sequences.Count; i++)
                {
                    if (!JsonKinds.IsString(sequences[i]))
                    {
                        return RelayError.InvalidType($"stop[{i}]", "a string", JsonKinds.Describe(sequences[i]));
                    }
                }

                return null;
            default:
                return RelayError.InvalidType("stop", "a string or an array of strings", JsonKinds.Describe(stop));
        }
    }

    private static RelayError? Metadata(JsonNode? metadata)
    {
        if (metadata is null)
        {
            return null;
        }

        if (metadata is not JsonObject pairs)
        {
            return RelayError.InvalidType("metadata", "an object", JsonKinds.Describe(metadata));
        }

        if (pairs.Count > MaxMetadataPairs)
        {
            return RelayError.InvalidValue("metadata", $"at most {MaxMetadataPairs} key-value pairs are allowed, but got {pairs.Count}.");
        }

        foreach (var (key, value) in pairs)
        {
            if (key.Length > MaxMetadataKeyLength)
            {
                return RelayError.InvalidValue("metadata", $"keys may be at most {MaxMetadataKeyLength} characters; '{key[..16]}…' is longer.");
            }

            if (!JsonKinds.IsString(value) || value!.GetValue<string>().Length > MaxMetadataValueLength)
            {
                return RelayError.InvalidValue("metadata", $"the value of '{key}' must be a string of at most {MaxMetadataValueLength} characters.");
            }
        }

        return null;
    }

    private static RelayError? LogitBias(JsonNode? logitBias) => logitBias switch
    {
        null => null,
        JsonObject biases when biases.Count > MaxLogitBias => RelayError.InvalidValue(
            "logit_bias", $"at most {MaxLogitBias} token biases are allowed, but got {biases.Count}."),
        JsonObject => null,
        _ => RelayError.InvalidType("logit_bias", "an object", JsonKinds.Describe(logitBias)),
    };
}
