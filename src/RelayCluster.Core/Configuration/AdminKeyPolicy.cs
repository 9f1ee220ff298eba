namespace RelayCluster.Core.Configuration;

/// <summary>
/// What a configured secret (the admin key, a tenant's API key, the stream token secret) must be once the relay is
/// more than the embedded demo: a long random secret. The admin key guards every tenant, key and budget, a tenant key
/// a tenant's budget; a short or published one is guessed or looked up, not cracked. One check for all of them.
/// </summary>
public static class AdminKeyPolicy
{
    /// <summary>Shortest secret accepted outside the embedded demo (characters).</summary>
    public const int MinLength = 24;

    /// <summary>Fewest distinct characters accepted (a long run of one character is not a secret).</summary>
    public const int MinDistinctCharacters = 10;

    // Placeholders shipped in examples and deployment files: whoever reads the files knows them.
    private static readonly string[] Placeholders = ["change-me", "changeme", "change_me", "replace-me", "replaceme", "replace_me", "example", "password", "secret"];

    /// <summary>Why the secret <paramref name="key"/> is too weak to guard a deployed relay, or null when it is acceptable.</summary>
    public static string? Weakness(string key)
    {
        if (Placeholders.FirstOrDefault(p => key.Contains(p, StringComparison.OrdinalIgnoreCase)) is { } placeholder)
        {
            return $"it contains the placeholder '{placeholder}' (a value from an example or deployment file)";
        }

        if (key.Length < MinLength)
        {
            return $"it is shorter than {MinLength} characters";
        }

        return key.Distinct().Count() < MinDistinctCharacters ? $"it has fewer than {MinDistinctCharacters} distinct characters" : null;
    }

    /// <summary>
    /// Whether every address the relay listens on is loopback (<c>localhost</c>, 127.x, <c>[::1]</c>): only then can
    /// nobody but this machine reach the admin API. Wildcards (<c>*</c>, <c>+</c>, <c>0.0.0.0</c>, <c>[::]</c>) and
    /// any other host are not.
    /// </summary>
    public static bool IsLoopbackOnly(IEnumerable<string> urls)
    {
        foreach (var url in urls.SelectMany(u => u.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            var start = url.IndexOf("://", StringComparison.Ordinal);
            var rest = start < 0 ? url : url[(start + 3)..];
            var host = rest.StartsWith('[') ? rest[..(rest.IndexOf(']', StringComparison.Ordinal) + 1)] : rest.Split(':', '/')[0];
            var loopback = host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
                || (System.Net.IPAddress.TryParse(host.Trim('[', ']'), out var address) && System.Net.IPAddress.IsLoopback(address));
            if (!loopback)
            {
                return false;
            }
        }

        return true;
    }
}
