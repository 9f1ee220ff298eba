namespace RelayCluster.Core.Wire;

/// <summary>
/// How many elements a /v1 body may hold, as OpenAI bounds them, so that a hostile body is refused before the
/// relay measures (or the upstream pays for) every element. Each refusal is a 400 naming the parameter.
/// </summary>
public static class RequestLimits
{
    /// <summary>Chat <c>messages</c> per request.</summary>
    public const int MaxMessages = 2048;

    /// <summary>Content parts in one message's <c>content</c> array.</summary>
    public const int MaxContentParts = 2048;

    /// <summary>Chat <c>tools</c> per request (OpenAI allows 128).</summary>
    public const int MaxTools = 128;

    /// <summary>
    /// <c>tool_calls</c> in one message of a replayed conversation. OpenAI states no number; this is the bound every
    /// other per-message array has (<see cref="MaxContentParts"/>), far beyond what a model emits in one turn.
    /// </summary>
    public const int MaxToolCalls = 2048;

    /// <summary>Chat <c>n</c>: choices per request (OpenAI allows 1 to 128).</summary>
    public const int MaxChoices = 128;

    /// <summary>Embeddings <c>input</c> items per request (OpenAI allows 2048).</summary>
    public const int MaxEmbeddingInputs = 2048;

    /// <summary>Token ids in one embeddings input given as ids (the embedding models' context, 8192).</summary>
    public const int MaxEmbeddingTokenIds = 8192;

    /// <summary>Embeddings <c>dimensions</c> (OpenAI's largest embedding model has 3072).</summary>
    public const int MaxEmbeddingDimensions = 4096;

    /// <summary>The OpenAI-worded 400 for an array above its maximum length, or null when it fits.</summary>
    public static RelayError? TooLong(string param, int count, int max) => count <= max
        ? null
        : RelayError.BadRequest(
            $"Invalid '{param}': array too long. Expected an array with maximum length {max}, but got an array with length {count} instead.",
            param, "array_above_max_length");
}
