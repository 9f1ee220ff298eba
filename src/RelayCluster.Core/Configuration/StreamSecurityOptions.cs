namespace RelayCluster.Core.Configuration;

/// <summary>
/// Security settings of streams (configuration section <c>Relay:Streams</c>, beside the retention settings):
/// the subscribe-token secret and how long a stream may wait on a client that does not read.
/// </summary>
public sealed record StreamSecurityOptions
{
    public const string SectionName = "Relay:Streams";

    /// <summary>Shortest configured token secret accepted (characters).</summary>
    public const int MinTokenSecretLength = 32;

    /// <summary>
    /// Secret text subscribe tokens are signed with (at least 32 characters, the same on every silo). Unset (the
    /// default): a random secret is generated once and kept in the store (Redis, or a file beside the embedded
    /// usage log), and rotated with <c>POST /admin/stream-tokens/rotate</c>. Set: rotated by configuration, moving
    /// the old value to <see cref="PreviousTokenSecret"/>.
    /// </summary>
    public string? TokenSecret { get; init; }

    /// <summary>The secret before the last rotation by configuration: tokens it signed still validate until they expire.</summary>
    public string? PreviousTokenSecret { get; init; }

    /// <summary>
    /// Longest a streamed response may wait for the client to take its bytes (a write or flush making no progress)
    /// before the request ends as <c>client_disconnected</c>: upstream cancelled, what was relayed billed, slot freed.
    /// </summary>
    public double ClientSendTimeoutSeconds { get; init; } = 30;

    /// <summary>What is wrong with these settings, or null.</summary>
    public string? Problem()
    {
        if (TokenSecret is { } secret && secret.Length < MinTokenSecretLength)
        {
            return $"Relay:Streams:TokenSecret must be at least {MinTokenSecretLength} characters (a random secret; leave it unset to have one generated).";
        }

        if (PreviousTokenSecret is { Length: > 0 } && string.IsNullOrEmpty(TokenSecret))
        {
            return "Relay:Streams:PreviousTokenSecret needs a Relay:Streams:TokenSecret.";
        }

        return ClientSendTimeoutSeconds > 0 ? null : "Relay:Streams:ClientSendTimeoutSeconds must be positive.";
    }
}

/// <summary>Stops the silo at start with the exact problem of <see cref="StreamSecurityOptions"/>.</summary>
public sealed class StreamSecurityOptionsValidator : Microsoft.Extensions.Options.IValidateOptions<StreamSecurityOptions>
{
    public Microsoft.Extensions.Options.ValidateOptionsResult Validate(string? name, StreamSecurityOptions options) =>
        options.Problem() is { } problem
            ? Microsoft.Extensions.Options.ValidateOptionsResult.Fail(problem)
            : Microsoft.Extensions.Options.ValidateOptionsResult.Success;
}
