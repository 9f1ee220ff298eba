using System.Collections.Concurrent;
using RelayCluster.Core.Metering;

namespace RelayCluster.Redis;

/// <summary>
/// The report's counters in a tenant's monthly usage hash (<c>{t:id}:usage:YYYY-MM</c>), beside the summary's own fields:
/// <c>s:&lt;lane&gt;:&lt;counter&gt;:&lt;model&gt;</c>, e.g. <c>s:batch:prompt:gpt-4o-mini</c> or
/// <c>s:interactive:e.client_disconnected:gpt-4o</c>. The model goes last so that any model name (they may hold <c>:</c>)
/// reads back whole; lanes and counters are fixed sets without <c>:</c>. A hash field is binary-safe, and a model name
/// comes from the configuration (records name only configured models), so the set of fields is bounded: models × 2 lanes
/// × (6 counters + endings).
/// </summary>
internal sealed class RedisUsageFields
{
    public const string Prefix = "s:";
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

    /// <summary>Reads a field name back: false for the summary's own fields (anything not <c>s:lane:counter:model</c>).</summary>
    public static bool TryParse(string field, out string lane, out string counter, out string model)
    {
        lane = counter = model = "";
        if (!field.StartsWith(Prefix, StringComparison.Ordinal))
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
