using System.Globalization;
using System.Text.Json;
using StackExchange.Redis;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;

namespace RelayCluster.Redis;

/// <summary>
/// The cluster's tenant journal: a tenant grain's state in Redis hashes under the tenant's hash tag <c>{t:id}</c>, so one
/// script can touch them all atomically on any Redis, Cluster included. Loading raises <c>{t:id}:epoch</c> and reads the
/// state in one script (tenant-load.lua); each commit is one script (tenant-commit.lua) that writes nothing unless the
/// epoch is still the activation's own, and then writes windows, reservations, spend, the ledger records and the month's
/// usage totals together. One round trip per commit, whatever number of turns it carries.
/// </summary>
public sealed partial class RedisTenantJournal(RedisConnection redis) : ITenantJournal
{
    /// <summary>About how many usage records a tenant's ledger stream keeps (older ones are trimmed; totals stay exact).</summary>
    public const int LedgerLength = 100_000;

    private static readonly RedisScript Load = RedisScript.Named("tenant-load");
    private static readonly RedisScript Commit = RedisScript.Named("tenant-commit");

    public async Task<TenantJournalLoad> LoadAsync(string tenantId)
    {
        var keys = RedisTenantKeys.Of(tenantId);
        var r = (RedisResult[])(await redis.EvaluateAsync(Load, [keys.Epoch, keys.State, keys.Requests, keys.Tokens, keys.Reservations, keys.Reclaimed], []))!;
        var image = new TenantImage();
        var state = Flat(r[1]);
        if (state.Count > 0)
        {
            // Fields added later (thresholds, webhook, the pause's cause, crossings) read as their defaults when absent.
            image.State = new TenantScalars(
                new TenantLimits(Limit(state, "rpm"), Limit(state, "tpm"), Limit(state, "maxc"), Long(state, "budget", -1) is >= 0 and var b ? b : null,
                    Threshold(state, "alert_th"), Threshold(state, "pause_th"), state.GetValueOrDefault("webhook") is { Length: > 0 } url ? url : null),
                Long(state, "paused", 0) == 1, state.GetValueOrDefault("month", ""), Long(state, "spent", 0), state.GetValueOrDefault("incarnation", ""),
                Long(state, "tpaused", 0) == 1);
            image.Crossings = BudgetCrossingJson.Read(state.GetValueOrDefault("crossings"));
        }

        foreach (var (second, amount) in Flat(r[2]))
        {
            image.Requests[Parse(second)] = Parse(amount);
        }

        foreach (var (second, amount) in Flat(r[3]))
        {
            image.Tokens[Parse(second)] = Parse(amount);
        }

        foreach (var (id, value) in Flat(r[4]))
        {
            var f = value.Split(':', 5);
            image.Reservations[id] = new ReservationEntry(Parse(f[0]), Parse(f[1]), Parse(f[2]), Parse(f[3]), f.Length > 4 ? f[4] : "");
        }

        foreach (var (id, value) in Flat(r[5]))
        {
            var f = value.Split(':', 4);
            image.Reclaimed[id] = new ReclaimedEntry(Parse(f[0]), Parse(f[1]), Parse(f[2]), Parse(f[3]));
        }

        return new TenantJournalLoad((long)r[0], image);
    }

    public async Task CommitAsync(string tenantId, long epoch, TenantChanges changes)
    {
        var call = RedisCommitArgs.Build(tenantId, epoch, changes, LedgerLength);
        if ((long)await redis.EvaluateAsync(Commit, call.Keys, call.Values) != 0)
        {
            throw new StoreUnavailableException($"Tenant {tenantId}: this activation was fenced by a newer one (epoch {epoch}).");
        }

        call.Completed();
    }

    public Task<long> IncarnationSpendAsync(string tenantId, string incarnation, string month) => Task.FromResult(0L);

    /// <summary>
    /// Adds one record of <paramref name="month"/> to what a commit adds to that month's usage totals (the hash
    /// <c>RedisUsageLedger</c> reads): the report's counters of the record's model and lane (<see cref="RedisUsageFields"/>,
    /// from which readers derive the summary), the day's counters, and the estimated requests and reasoning tokens (the
    /// summary's only counters no slice keeps), summed over the commit's records and added only when not 0 (an absent
    /// field reads as 0). Clamped as the summary's are.
    /// </summary>
    internal static void AddUsage(Dictionary<string, long> totals, string month, UsageRecord record)
    {
        var prompt = Math.Clamp(record.PromptTokens, 0, ReservationLimits.MaxTokens);
        var completion = Math.Clamp(record.CompletionTokens, 0, ReservationLimits.MaxTokens);
        var cost = Math.Clamp(record.CostNanos, 0, ReservationLimits.MaxNanos);
        var cached = Math.Min(Core.Metering.Reports.UsageCounts.BilledCached(record), prompt); // as the slices and days: never above the prompt
        AddSlice(totals, record, prompt, completion, cached, cost);
        AddDay(totals, month, record, prompt, completion, cached, cost);
        AddSome(totals, "estimated", record.Estimated ? 1 : 0);
        AddSome(totals, "reasoning", Math.Clamp(record.ReasoningTokens ?? 0, 0, ReservationLimits.MaxTokens));
    }

    /// <summary>The report's counters of the record's model and lane (see <see cref="RedisUsageFields"/>).</summary>
    private static void AddSlice(Dictionary<string, long> totals, UsageRecord record, long prompt, long completion, long cached, long cost)
    {
        var fields = RedisUsageFields.For(record.Model, UsageLanes.Of(record));
        Add(totals, fields.RequestsField, 1);
        AddSome(totals, fields.StreamedField, record.Stream ? 1 : 0);
        AddSome(totals, fields.PromptField, prompt);
        AddSome(totals, fields.CompletionField, completion);
        AddSome(totals, fields.CachedField, cached);
        AddSome(totals, fields.CostField, cost);
        Add(totals, fields.EndingField(record.Ending), 1);
    }

    /// <summary>
    /// The day's counters (<see cref="RedisDayFields"/>). A commit carries at most six HINCRBY per day its records fall on
    /// (four for a commit of completed requests that cost something, without cached tokens), however many records it
    /// holds, since the fields are summed here first.
    /// </summary>
    private static void AddDay(Dictionary<string, long> totals, string month, UsageRecord record, long prompt, long completion, long cached, long cost)
    {
        var day = RedisDayFields.Of(Core.Metering.Reports.UsageDays.DayOf(month, record));
        Add(totals, day[RedisDayFields.Requests], 1);
        AddSome(totals, day[RedisDayFields.Errors], Core.Metering.Reports.UsageDays.IsError(record) ? 1 : 0);
        AddSome(totals, day[RedisDayFields.Prompt], prompt);
        AddSome(totals, day[RedisDayFields.Completion], completion);
        AddSome(totals, day[RedisDayFields.Cached], cached);
        AddSome(totals, day[RedisDayFields.Cost], cost);
    }

    private static void AddSome(Dictionary<string, long> totals, string field, long amount)
    {
        if (amount != 0)
        {
            Add(totals, field, amount);
        }
    }

    private static void Add(Dictionary<string, long> totals, string field, long amount) =>
        totals[field] = Saturating.Add(totals.GetValueOrDefault(field), amount);

    private static Dictionary<string, string> Flat(RedisResult result) => RedisHashReply.Read((RedisResult[])result!);

    private static long Parse(string value) => long.Parse(value, NumberStyles.Integer, CultureInfo.InvariantCulture);

    private static long Long(Dictionary<string, string> state, string field, long missing) =>
        state.TryGetValue(field, out var value) && long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : missing;

    private static double? Threshold(Dictionary<string, string> state, string field) =>
        state.TryGetValue(field, out var value) && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && TenantLimits.IsThreshold(v)
            ? v
            : null;

    private static int? Limit(Dictionary<string, string> state, string field) => Long(state, field, 0) is > 0 and <= int.MaxValue and var n ? (int)n : null;
}
