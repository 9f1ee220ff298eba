namespace RelayCluster.Core.Routing;

/// <summary>A tenant's allowed-model list: exact names and prefix patterns ending in <c>*</c>.</summary>
public sealed class ModelPatterns(IEnumerable<string> patterns)
{
    private readonly string[] _patterns = patterns.ToArray();

    public bool Allows(string model)
    {
        foreach (var pattern in _patterns)
        {
            var matches = pattern.EndsWith('*')
                ? model.StartsWith(pattern.AsSpan(0, pattern.Length - 1), StringComparison.Ordinal)
                : string.Equals(model, pattern, StringComparison.Ordinal);
            if (matches)
            {
                return true;
            }
        }

        return false;
    }
}
