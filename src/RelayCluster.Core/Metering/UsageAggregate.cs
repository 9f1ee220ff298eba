using RelayCluster.Core.Metering.Reports;

namespace RelayCluster.Core.Metering;

/// <summary>Running totals of one tenant's month, built from the same records the log holds.</summary>
internal sealed class UsageAggregate(string tenant, string month)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, ModelUsage> _byModel = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _byEnding = new(StringComparer.Ordinal);
    // The report's counters per model × lane: bounded by the configured models (records name only those) times two lanes.
    private readonly Dictionary<(string Model, string Lane), UsageCounts> _slices = [];
    // The month's days (UsageDays' layout): fixed size, so a booking adds to six longs and allocates nothing.
    private readonly long[] _days = new long[UsageDays.MaxDays * UsageDays.Counters];
    private long _requests;
    private long _prompt;
    private long _completion;
    private long _cost;
    private long _estimated;
    private long _cached;
    private long _reasoning;

    public long CostNanos
    {
        get
        {
            lock (_gate)
            {
                return _cost;
            }
        }
    }

    public void Add(UsageRecord record)
    {
        lock (_gate)
        {
            // Saturating: one absurd record (a misbehaving upstream's usage) must not wrap a month's totals negative.
            _requests++;
            _prompt = Saturating.Add(_prompt, record.PromptTokens);
            _completion = Saturating.Add(_completion, record.CompletionTokens);
            _cost = Saturating.Add(_cost, record.CostNanos);
            _estimated += record.Estimated ? 1 : 0;
            _cached = Saturating.Add(_cached, UsageCounts.BilledCached(record)); // as the report and the days count it: never above the prompt
            _reasoning = Saturating.Add(_reasoning, Math.Max(0, record.ReasoningTokens ?? 0));
            var model = _byModel.GetValueOrDefault(record.Model) ?? new ModelUsage(0, 0, 0, 0);
            _byModel[record.Model] = new ModelUsage(
                model.Requests + 1, Saturating.Add(model.PromptTokens, record.PromptTokens),
                Saturating.Add(model.CompletionTokens, record.CompletionTokens), Saturating.Add(model.CostNanos, record.CostNanos));
            _byEnding[record.Ending] = _byEnding.GetValueOrDefault(record.Ending) + 1;
            var slice = (record.Model, UsageLanes.Of(record));
            if (!_slices.TryGetValue(slice, out var counts))
            {
                _slices[slice] = counts = new UsageCounts();
            }

            counts.Add(record);
            UsageDays.Add(_days, UsageDays.DayOf(month, record), record);
        }
    }

    /// <summary>Every day of the month (zeros included), for the daily view.</summary>
    public IReadOnlyList<UsageDay> Days()
    {
        lock (_gate)
        {
            return UsageDays.Read(month, _days);
        }
    }

    /// <summary>A copy of the month's counters per model and lane, for reports.</summary>
    public IReadOnlyList<UsageSlice> Slices()
    {
        lock (_gate)
        {
            return [.. _slices.Select(s => new UsageSlice(s.Key.Model, s.Key.Lane, s.Value.Clone()))];
        }
    }

    public UsageSummary Snapshot()
    {
        lock (_gate)
        {
            return new UsageSummary(tenant, month, _requests, _prompt, _completion, _cost, _estimated,
                new Dictionary<string, ModelUsage>(_byModel), new Dictionary<string, long>(_byEnding))
            {
                CachedTokens = _cached,
                ReasoningTokens = _reasoning,
            };
        }
    }
}
