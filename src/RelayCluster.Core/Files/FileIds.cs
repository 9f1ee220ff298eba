using System.Buffers;
using System.Security.Cryptography;

namespace RelayCluster.Core.Files;

/// <summary>
/// File ids: <c>file-</c>, the creation time in milliseconds (8 base-62 digits), then 22 random base-62 digits
/// (131 bits: unguessable). The alphabet is in ASCII order, so ordinal order of ids is creation order and a
/// listing can sort and page by file name without opening every file.
/// </summary>
public static class FileIds
{
    public const string Prefix = "file-";
    private const string Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    private const int TimeDigits = 8;
    private const int RandomDigits = 22;
    private const int Length = 5 + TimeDigits + RandomDigits;
    private static readonly SearchValues<char> AlphabetValues = SearchValues.Create(Alphabet);

    /// <summary>A new id for a file created at <paramref name="unixMillis"/>.</summary>
    public static string New(long unixMillis)
    {
        Span<char> id = stackalloc char[Length];
        Prefix.CopyTo(id);
        var millis = unixMillis;
        for (var i = Prefix.Length + TimeDigits - 1; i >= Prefix.Length; i--)
        {
            id[i] = Alphabet[(int)(millis % Alphabet.Length)];
            millis /= Alphabet.Length;
        }

        RandomNumberGenerator.GetItems(Alphabet, id[(Prefix.Length + TimeDigits)..]);
        return new string(id);
    }

    /// <summary>Only ids of this exact shape ever reach the file system, so an id can never name a path.</summary>
    public static bool IsValid(string? id) =>
        id is { Length: Length } && id.StartsWith(Prefix, StringComparison.Ordinal) && !id.AsSpan(Prefix.Length).ContainsAnyExcept(AlphabetValues);
}
