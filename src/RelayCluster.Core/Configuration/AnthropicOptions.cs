namespace RelayCluster.Core.Configuration;

/// <summary>Settings only an <c>anthropic</c> provider reads (the Messages API differs from OpenAI's in these).</summary>
public sealed class AnthropicOptions
{
    /// <summary>Sent as <c>anthropic-version</c>; the wire format this provider translates is 2023-06-01's.</summary>
    public string Version { get; set; } = "2023-06-01";

    /// <summary>Anthropic requires <c>max_tokens</c>; this is sent when the caller set no output cap.</summary>
    public int DefaultMaxTokens { get; set; } = 4096;

    /// <summary>
    /// Retry-After for an overload (529, relayed as 503) that came without one, so SDKs back off for a
    /// moment instead of retrying an overloaded upstream at once.
    /// </summary>
    public int OverloadedRetryAfterSeconds { get; set; } = 5;
}
