namespace RelayCluster.Core.Metering.Reports;

/// <summary>
/// The counters a usage report is made of, summed over some usage records: requests, streamed requests, tokens
/// (prompt, completion, and the cached part of the prompt), cost in nano-dollars, and requests by ending. The stores keep
/// one per tenant × month × model × lane as usage is booked (<see cref="UsageSlice"/>); reports add them up. Not
/// thread-safe: the embedded aggregate adds under its own lock, and a report sums copies.
/// </summary>
public sealed class UsageCounts
{
    private readonly long[] _endings = new long[Metering.Endings.All.Count];
    private Dictionary<string, long>? _otherEndings; // an ending this build does not know (a newer writer's): kept, never dropped

    public long Requests { get; set; }

    /// <summary>Requests made with <c>stream: true</c>.</summary>
    public long StreamedRequests { get; set; }

    public long PromptTokens { get; set; }

    public long CompletionTokens { get; set; }

    /// <summary>
    /// Cached prompt tokens as billed: a part of <see cref="PromptTokens"/>, so a report of more cached tokens than prompt
    /// tokens (a misbehaving upstream) counts only the prompt's. Priced at the model's cached-input price where it has one.
    /// </summary>
    public long CachedTokens { get; set; }

    /// <summary>What the ledger billed, in nano-dollars.</summary>
    public long CostNanos { get; set; }

    /// <summary>Requests by ending (<see cref="Metering.Endings"/>), the known endings first, in their order; zero counts left out.</summary>
    public IEnumerable<KeyValuePair<string, long>> Endings
    {
        get
        {
            for (var i = 0; i < _endings.Length; i++)
            {
                if (_endings[i] != 0)
                {
                    yield return new(Metering.Endings.All[i], _endings[i]);
                }
            }

            if (_otherEndings is not null)
            {
                foreach (var other in _otherEndings.OrderBy(e => e.Key, StringComparer.Ordinal))
                {
                    yield return other;
                }
            }
        }
    }

    /// <summary>Requests that ended other than <see cref="Metering.Endings.Completed"/> (requests whose ending was not kept are not counted).</summary>
    public long Errors => Endings.Where(e => e.Key != Metering.Endings.Completed).Aggregate(0L, (sum, e) => Saturating.Add(sum, e.Value));

    public long Ending(string ending) => IndexOf(ending) is var i and >= 0 ? _endings[i] : _otherEndings?.GetValueOrDefault(ending) ?? 0;

    /// <summary>Counts one settled request (no allocation unless its ending is unknown).</summary>
    public void Add(UsageRecord record)
    {
        var prompt = Math.Max(0, record.PromptTokens);
        Requests++;
        StreamedRequests += record.Stream ? 1 : 0;
        PromptTokens = Saturating.Add(PromptTokens, prompt);
        CompletionTokens = Saturating.Add(CompletionTokens, Math.Max(0, record.CompletionTokens));
        CachedTokens = Saturating.Add(CachedTokens, BilledCached(record));
        CostNanos = Saturating.Add(CostNanos, Math.Max(0, record.CostNanos));
        AddEnding(record.Ending, 1);
    }

    /// <summary>Adds another sum into this one.</summary>
    public void Add(UsageCounts other)
    {
        Requests = Saturating.Add(Requests, other.Requests);
        StreamedRequests = Saturating.Add(StreamedRequests, other.StreamedRequests);
        PromptTokens = Saturating.Add(PromptTokens, other.PromptTokens);
        CompletionTokens = Saturating.Add(CompletionTokens, other.CompletionTokens);
        CachedTokens = Saturating.Add(CachedTokens, other.CachedTokens);
        CostNanos = Saturating.Add(CostNanos, other.CostNanos);
        foreach (var (ending, count) in other.Endings)
        {
            AddEnding(ending, count);
        }
    }

    public void AddEnding(string ending, long count)
    {
        if (IndexOf(ending) is var i and >= 0)
        {
            _endings[i] = Saturating.Add(_endings[i], count);
            return;
        }

        _otherEndings ??= new Dictionary<string, long>(StringComparer.Ordinal);
        _otherEndings[ending] = Saturating.Add(_otherEndings.GetValueOrDefault(ending), count);
    }

    public UsageCounts Clone()
    {
        var copy = new UsageCounts();
        copy.Add(this);
        return copy;
    }

    /// <summary>The cached tokens of a record as billed: at most its prompt, never negative.</summary>
    public static long BilledCached(UsageRecord record) => Math.Clamp(record.CachedTokens ?? 0, 0, Math.Max(0, record.PromptTokens));

    private static int IndexOf(string ending)
    {
        var all = Metering.Endings.All;
        for (var i = 0; i < all.Count; i++)
        {
            if (string.Equals(all[i], ending, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }
}

/// <summary>One model's usage on one lane (<see cref="UsageLanes"/>) of a tenant's month, as a store keeps it.</summary>
public sealed record UsageSlice(string Model, string Lane, UsageCounts Counts);
