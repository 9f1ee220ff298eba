namespace RelayCluster.Cli;

/// <summary>The process exit codes: scripts tell a refusal from a typo from an unreachable relay.</summary>
public static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>The relay answered with an error (the one line on stderr carries its status and code), or a batch did not complete.</summary>
    public const int ApiError = 1;

    /// <summary>Bad arguments: an unknown flag, a missing argument, a malformed value, no key to send.</summary>
    public const int Usage = 2;

    /// <summary>No answer: the URL does not resolve, the connection is refused, or the relay timed out.</summary>
    public const int CannotConnect = 3;
}

/// <summary>Bad arguments found after parsing (a malformed <c>model=weight</c>, a missing key): exit 2.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>
/// The relay answered with a status outside 2xx. <see cref="Line"/> is the one line shown, e.g.
/// <c>404 not_found: No such tenant 'x'.</c>, from the OpenAI error envelope when the body is one.
/// </summary>
public sealed class RelayApiException(int status, string line) : Exception(line)
{
    public int Status { get; } = status;

    public string Line { get; } = line;
}

/// <summary>The relay could not be reached (exit 3); the message names the URL, never a key.</summary>
public sealed class RelayUnreachableException(string message, Exception inner) : Exception(message, inner);

/// <summary>A command that finished but failed by its own measure (a batch that ended failed or cancelled): exit 1.</summary>
public sealed class CommandFailedException(string message) : Exception(message);
