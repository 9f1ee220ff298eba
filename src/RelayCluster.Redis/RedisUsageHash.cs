using RelayCluster.Core.Metering;
using RelayCluster.Core.Metering.Reports;
using StackExchange.Redis;

namespace RelayCluster.Redis;

/// <summary>
/// One HGETALL of a tenant's monthly usage hash (<c>{t:id}:usage:YYYY-MM</c>), sorted into its two forms (see
/// <see cref="RedisUsageFields"/>): the old one's summary fields (<c>requests</c>, <c>prompt</c>, <c>completion</c>,
/// <c>cost</c>, <c>cached</c>, <c>m:model:counter</c>, <c>e:ending</c>) with its <c>s:…</c> slices, and the new one's
/// <c>u:…</c> slices, from which a summary is derived. <c>estimated</c> and <c>reasoning</c> are written by both forms;
/// day counters are read apart (<see cref="RedisDayFields"/>).
/// </summary>
internal sealed class RedisUsageHash
{
    private readonly Dictionary<string, long> _summary = new(StringComparer.Ordinal);
    private readonly Dictionary<string, UsageCounts> _models = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _endings = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Model, string Lane), UsageCounts> _summed = [];
    private readonly Dictionary<(string Model, string Lane), UsageCounts> _lean = [];

    /// <summary>Sorts <paramref name="entries"/>; fields of neither form (days, unknown ones) and values that are not integers are left out.</summary>
    public RedisUsageHash(HashEntry[] entries)
    {
        foreach (var entry in entries)
        {
            var name = (string)entry.Name!;
            if (!entry.Value.TryParse(out long amount))
            {
                continue;
            }

            if (RedisUsageFields.TryParse(name, out var summed, out var lane, out var counter, out var model))
            {
                AddSliceCounter(Counts(summed ? _summed : _lean, model, lane), counter, amount);
            }
            else if (name.StartsWith("m:", StringComparison.Ordinal) && name.LastIndexOf(':') is var colon and > 2)
            {
                var counts = Counts(_models, name[2..colon]);
                switch (name[(colon + 1)..])
                {
                    case "requests": counts.Requests = amount; break;
                    case "prompt": counts.PromptTokens = amount; break;
                    case "completion": counts.CompletionTokens = amount; break;
                    case "cost": counts.CostNanos = amount; break;
                }
            }
            else if (name.StartsWith("e:", StringComparison.Ordinal))
            {
                _endings[name[2..]] = amount;
            }
            else if (!name.Contains(':', StringComparison.Ordinal))
            {
                _summary[name] = amount;
            }
        }
    }

    /// <summary>The month's summary: the old form's own fields plus what the new form's slices add.</summary>
    public UsageSummary Summary(string tenantId, string month)
    {
        var total = new UsageCounts
        {
            Requests = _summary.GetValueOrDefault("requests"), PromptTokens = _summary.GetValueOrDefault("prompt"),
            CompletionTokens = _summary.GetValueOrDefault("completion"), CostNanos = _summary.GetValueOrDefault("cost"),
            CachedTokens = _summary.GetValueOrDefault("cached"),
        };
        var byModel = new Dictionary<string, UsageCounts>(StringComparer.Ordinal);
        foreach (var (model, counts) in _models)
        {
            Counts(byModel, model).Add(counts);
        }

        var byEnding = new Dictionary<string, long>(_endings, StringComparer.Ordinal);
        foreach (var ((model, _), counts) in _lean)
        {
            total.Add(counts);
            Counts(byModel, model).Add(counts);
            foreach (var (ending, count) in counts.Endings)
            {
                byEnding[ending] = Saturating.Add(byEnding.GetValueOrDefault(ending), count);
            }
        }

        return new UsageSummary(tenantId, month, total.Requests, total.PromptTokens, total.CompletionTokens, total.CostNanos,
            _summary.GetValueOrDefault("estimated"),
            byModel.ToDictionary(m => m.Key, m => new ModelUsage(m.Value.Requests, m.Value.PromptTokens, m.Value.CompletionTokens, m.Value.CostNanos), StringComparer.Ordinal),
            byEnding)
        {
            CachedTokens = total.CachedTokens,
            ReasoningTokens = _summary.GetValueOrDefault("reasoning"),
        };
    }

    /// <summary>
    /// The month's slices, both forms added up. Usage booked before the hash kept slices at all (a month that began before
    /// that upgrade) is only in the old form's per-model fields: what those hold beyond its <c>s:…</c> slices is counted
    /// as interactive, so requests, tokens and cost stay whole; its streaming, cached tokens and endings were never kept.
    /// </summary>
    public IReadOnlyList<UsageSlice> Slices()
    {
        var slices = new Dictionary<(string Model, string Lane), UsageCounts>();
        foreach (var (key, counts) in _summed)
        {
            Counts(slices, key.Model, key.Lane).Add(counts);
        }

        foreach (var (model, whole) in _models)
        {
            var rest = whole.Clone();
            foreach (var (key, counts) in _summed)
            {
                if (key.Model == model)
                {
                    rest.Requests -= counts.Requests;
                    rest.PromptTokens -= counts.PromptTokens;
                    rest.CompletionTokens -= counts.CompletionTokens;
                    rest.CostNanos -= counts.CostNanos;
                }
            }

            if (rest.Requests > 0)
            {
                Counts(slices, model, UsageLanes.Interactive).Add(rest);
            }
        }

        foreach (var (key, counts) in _lean)
        {
            Counts(slices, key.Model, key.Lane).Add(counts);
        }

        return [.. slices.Select(s => new UsageSlice(s.Key.Model, s.Key.Lane, s.Value))];
    }

    private static void AddSliceCounter(UsageCounts counts, string counter, long amount)
    {
        switch (counter)
        {
            case RedisUsageFields.Requests: counts.Requests = amount; break;
            case RedisUsageFields.Streamed: counts.StreamedRequests = amount; break;
            case RedisUsageFields.Prompt: counts.PromptTokens = amount; break;
            case RedisUsageFields.Completion: counts.CompletionTokens = amount; break;
            case RedisUsageFields.Cached: counts.CachedTokens = amount; break;
            case RedisUsageFields.Cost: counts.CostNanos = amount; break;
            default:
                if (counter.StartsWith(RedisUsageFields.EndingPrefix, StringComparison.Ordinal))
                {
                    counts.AddEnding(counter[RedisUsageFields.EndingPrefix.Length..], amount);
                }

                break;
        }
    }

    private static UsageCounts Counts<TKey>(Dictionary<TKey, UsageCounts> counts, TKey key)
        where TKey : notnull
    {
        if (!counts.TryGetValue(key, out var found))
        {
            counts[key] = found = new UsageCounts();
        }

        return found;
    }

    private static UsageCounts Counts(Dictionary<(string Model, string Lane), UsageCounts> counts, string model, string lane) =>
        Counts(counts, (model, lane));
}
