using System.Collections.Concurrent;
using RelayCluster.Core.Metering;

namespace RelayCluster.Redis;

/// <summary>
/// The report's counters in a tenant's monthly usage hash (<c>{t:id}:usage:YYYY-MM</c>):
/// <c>u:&lt;lane&gt;:&lt;counter&gt;:&lt;model&gt;</c>, e.g. <c>u:batch:prompt:gpt-4o-mini</c> or
/// <c>u:interactive:e.client_disconnected:gpt-4o</c>. The model goes last so that any model name (they may hold <c>:</c>)
/// reads back whole; lanes and counters are fixed sets without <c>:</c>. A hash field is binary-safe, and a model name
/// comes from the configuration (records name only configured models), so the set of fields is bounded: models × 2 lanes
/// × (6 counters + endings).
/// <para>
/// Two forms share the hash. Commits up to issue 16 wrote these counters as <c>s:…</c> <em>beside</em> the summary's own
/// fields (<c>requests</c>, <c>m:model:cost</c>, <c>e:ending</c>, …), which counted the same usage again; since then a
/// commit writes only <c>u:…</c> (and the day counters, and <c>estimated</c>/<c>reasoning</c> when not 0), and readers
/// derive the summary from them. A month holding both forms (begun before the upgrade, or written by an older silo
/// during a rolling upgrade) adds them up: what the old form counted is in its own fields, what the new form counted only
/// in <c>u:…</c>, so nothing is counted twice or lost.
/// </para>
/// </summary>
internal sealed class RedisUsageFields
{
    /// <summary>The prefix of the counters commits write (the only form of a month begun after issue 16).</summary>
    public const string Prefix = "u:";

    /// <summary>The prefix of the counters written beside the summary's own fields, before issue 16 (read, never written).</summary>
    public const string SummedPrefix = "s:";
    public const string Requests = "requests";
    public const string Streamed = "streamed";
    public const string Prompt = "prompt";
    public const string Completion = "completion";
    public const string Cached = "cached";
    public const string Cost = "cost";
    public const string EndingPrefix = "e.";

    // Field names are built once per model and lane, not per record: commits run on the hot path's settle turns.
    // Bounded by the configured models; the cap only guards against a store fed models no configuration names.
    private const int CacheCap = 4096;
    private static readonly ConcurrentDictionary<(string Model, string Lane), RedisUsageFields> Cache = new();

    private readonly string[] _endings;

    private RedisUsageFields(string model, string lane)
    {
        Model = model;
        Lane = lane;
        RequestsField = Name(lane, Requests, model);
        StreamedField = Name(lane, Streamed, model);
        PromptField = Name(lane, Prompt, model);
        CompletionField = Name(lane, Completion, model);
        CachedField = Name(lane, Cached, model);
        CostField = Name(lane, Cost, model);
        _endings = [.. Endings.All.Select(e => Name(lane, EndingPrefix + e, model))];
    }

    public string Model { get; }

    public string Lane { get; }

    public string RequestsField { get; }

    public string StreamedField { get; }

    public string PromptField { get; }

    public string CompletionField { get; }

    public string CachedField { get; }

    public string CostField { get; }

    public static RedisUsageFields For(string model, string lane)
    {
        if (Cache.TryGetValue((model, lane), out var fields))
        {
            return fields;
        }

        fields = new RedisUsageFields(model, lane);
        return Cache.Count < CacheCap ? Cache.GetOrAdd((model, lane), fields) : fields;
    }

    public string EndingField(string ending)
    {
        for (var i = 0; i < Endings.All.Count; i++)
        {
            if (string.Equals(Endings.All[i], ending, StringComparison.Ordinal))
            {
                return _endings[i];
            }
        }

        return Name(Lane, EndingPrefix + ending, Model);
    }

    /// <summary>
    /// Reads a field name back: false for anything not <c>u:lane:counter:model</c> or <c>s:lane:counter:model</c>;
    /// <paramref name="summed"/> tells the second (the old form, whose usage the summary's own fields also hold).
    /// </summary>
    public static bool TryParse(string field, out bool summed, out string lane, out string counter, out string model)
    {
        lane = counter = model = "";
        summed = field.StartsWith(SummedPrefix, StringComparison.Ordinal);
        if (!summed && !field.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var rest = field.AsSpan(Prefix.Length);
        var first = rest.IndexOf(':');
        if (first <= 0)
        {
            return false;
        }

        var second = rest[(first + 1)..].IndexOf(':');
        if (second <= 0)
        {
            return false;
        }

        lane = rest[..first].ToString();
        counter = rest.Slice(first + 1, second).ToString();
        model = rest[(first + 1 + second + 1)..].ToString();
        return model.Length > 0;
    }

    private static string Name(string lane, string counter, string model) => string.Concat(Prefix, lane, ":", counter, ":", model);
}
