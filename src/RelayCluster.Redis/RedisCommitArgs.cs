using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text;
using System.Text.Json;
using RelayCluster.Core;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;
using StackExchange.Redis;

namespace RelayCluster.Redis;

/// <summary>
/// The keys and arguments of one <c>tenant-commit.lua</c> call (the script names their order), built for the hot path's
/// commits: one array of exactly the arguments sent, the tenant's keys cached, and no string per value: reservation
/// values and ledger records (JSON, byte for byte what <c>JsonSerializer.Serialize</c> writes) go as UTF-8 into one
/// pooled buffer and are sent as slices of it. <see cref="Completed"/> gives the buffer back once Redis has answered;
/// after a failure it is left to the garbage collector, as the client library may still be writing the command.
/// </summary>
internal sealed class RedisCommitArgs
{
    // A usage record's JSON is ~450 bytes, a reservation value ~60: a group commit of a few turns fits the first array.
    private const int FirstBufferBytes = 4096;

    // Most commits book one month; the scratch tables are the building thread's own, used only before the call is sent.
    [ThreadStatic] private static List<(string Month, Dictionary<string, long> Totals)>? t_months;
    [ThreadStatic] private static Utf8JsonWriter? t_json;

    private readonly PooledBytes _bytes;

    private RedisCommitArgs(RedisKey[] keys, RedisValue[] values, PooledBytes bytes) => (Keys, Values, _bytes) = (keys, values, bytes);

    public RedisKey[] Keys { get; }

    public RedisValue[] Values { get; }

    /// <summary>The call succeeded (so the command was written whole): the buffer goes back to the pool.</summary>
    public void Completed() => _bytes.Return();

    /// <summary>The arguments of <paramref name="changes"/> for the activation of <paramref name="epoch"/>.</summary>
    public static RedisCommitArgs Build(string tenantId, long epoch, TenantChanges changes, int ledgerLength)
    {
        var months = UsageTotals(changes.Ledger);
        var stateFields = (changes.State is not null ? 12 : changes.Spend is not null ? 2 : 0) + (changes.Crossings is null ? 0 : 1);
        var (reservationsSet, reservationsRemoved) = Count(changes.Reservations);
        var (reclaimedSet, reclaimedRemoved) = Count(changes.Reclaimed);
        var count = 2 + 1 + 2 * stateFields
            + 2 + 2 * changes.Requests.Count + changes.RequestsDropped.Count + 2 + 2 * changes.Tokens.Count + changes.TokensDropped.Count
            + 2 + 2 * reservationsSet + reservationsRemoved + 2 + 2 * reclaimedSet + reclaimedRemoved
            + 1 + changes.Ledger.Count;
        foreach (var (_, totals) in months)
        {
            count += 1 + 2 * totals.Count;
        }

        var values = new RedisValue[count];
        var bytes = new PooledBytes(FirstBufferBytes);
        var buffered = reservationsSet + reclaimedSet + changes.Ledger.Count;
        var slots = ArrayPool<int>.Shared.Rent(2 * Math.Max(buffered, 1)); // (argument index, start) of each buffered value
        var n = 0;
        var slotCount = 0;
        values[n++] = epoch;
        values[n++] = ledgerLength;
        values[n++] = stateFields;
        if (changes.State is { } s)
        {
            values[n++] = "month"; values[n++] = s.Month;
            values[n++] = "spent"; values[n++] = s.SpentNanos;
            values[n++] = "rpm"; values[n++] = s.Limits.RequestsPerMinute ?? 0;
            values[n++] = "tpm"; values[n++] = s.Limits.TokensPerMinute ?? 0;
            values[n++] = "maxc"; values[n++] = s.Limits.MaxConcurrent ?? 0;
            values[n++] = "budget"; values[n++] = s.Limits.MonthlyBudgetNanos ?? -1;
            values[n++] = "paused"; values[n++] = s.Paused ? 1 : 0;
            values[n++] = "incarnation"; values[n++] = s.Incarnation;
            values[n++] = "alert_th"; values[n++] = Threshold(s.Limits.AlertThreshold);
            values[n++] = "pause_th"; values[n++] = Threshold(s.Limits.PauseThreshold);
            values[n++] = "webhook"; values[n++] = s.Limits.AlertWebhookUrl ?? "";
            values[n++] = "tpaused"; values[n++] = s.PausedByThreshold ? 1 : 0;
        }
        else if (changes.Spend is { } spend)
        {
            // A settle's commit: the other ten values stayed as stored.
            values[n++] = "month"; values[n++] = spend.Month;
            values[n++] = "spent"; values[n++] = spend.SpentNanos;
        }

        if (changes.Crossings is { } crossings)
        {
            // Written only by the rare commit that changes them (a crossing, a delivery attempt), not by every settle.
            values[n++] = "crossings"; values[n++] = BudgetCrossingJson.Write(crossings);
        }

        AddBuckets(values, ref n, changes.Requests, changes.RequestsDropped);
        AddBuckets(values, ref n, changes.Tokens, changes.TokensDropped);
        values[n++] = reservationsSet;
        foreach (var (id, entry) in changes.Reservations)
        {
            if (entry is { } r)
            {
                values[n++] = id;
                NextIsBuffered();
                WriteEntry(bytes, r.Second, r.EstimatedTokens, r.ReservedNanos, r.DeadlineMs, r.Silo);
            }
        }

        AddRemoved(values, ref n, changes.Reservations, reservationsRemoved);
        values[n++] = reclaimedSet;
        foreach (var (id, entry) in changes.Reclaimed)
        {
            if (entry is { } r)
            {
                values[n++] = id;
                NextIsBuffered();
                WriteEntry(bytes, r.Second, r.EstimatedTokens, r.ReservedNanos, r.ReclaimedAtMs, null);
            }
        }

        AddRemoved(values, ref n, changes.Reclaimed, reclaimedRemoved);
        values[n++] = changes.Ledger.Count;
        foreach (var entry in changes.Ledger)
        {
            NextIsBuffered();
            WriteRecord(bytes, entry.Record);
        }

        var keys = RedisTenantKeys.Cached(tenantId).For(months);
        foreach (var (_, totals) in months)
        {
            values[n++] = totals.Count;
            foreach (var (field, amount) in totals)
            {
                values[n++] = field;
                values[n++] = amount;
            }
        }

        // Slices only now: the buffer may have moved while it grew.
        for (var i = 0; i < slotCount; i++)
        {
            var end = i + 1 < slotCount ? slots[2 * i + 3] : bytes.Written;
            values[slots[2 * i]] = bytes.Slice(slots[2 * i + 1], end);
        }

        ArrayPool<int>.Shared.Return(slots);
        return new RedisCommitArgs(keys, values, bytes);

        // The next argument is what is written to the buffer from here: its index and start are kept for the slicing above.
        void NextIsBuffered()
        {
            slots[2 * slotCount] = n++;
            slots[2 * slotCount + 1] = bytes.Written;
            slotCount++;
        }
    }

    /// <summary><c>second:tokens:nanos:time[:silo]</c>, the stored form of a reservation (with its silo) or a reclaimed one.</summary>
    private static void WriteEntry(PooledBytes bytes, long second, long tokens, long nanos, long timeMs, string? silo)
    {
        var span = bytes.GetSpan(4 * 21 + (silo is null ? 0 : 1 + Encoding.UTF8.GetMaxByteCount(silo.Length)));
        var n = Number(span, second);
        span[n++] = (byte)':';
        n += Number(span[n..], tokens);
        span[n++] = (byte)':';
        n += Number(span[n..], nanos);
        span[n++] = (byte)':';
        n += Number(span[n..], timeMs);
        if (silo is not null)
        {
            span[n++] = (byte)':';
            n += Encoding.UTF8.GetBytes(silo, span[n..]);
        }

        bytes.Advance(n);
    }

    private static int Number(Span<byte> span, long value) =>
        Utf8Formatter.TryFormat(value, span, out var written) ? written : throw new InvalidOperationException("A reservation value outgrew its buffer.");

    /// <summary>The record's JSON with the options <c>JsonSerializer.Serialize(record, UsageJsonContext.Default.UsageRecord)</c> uses.</summary>
    private static void WriteRecord(PooledBytes bytes, UsageRecord record)
    {
        var json = t_json ??= new Utf8JsonWriter(bytes, new JsonWriterOptions
        {
            Encoder = UsageJsonContext.Default.Options.Encoder,
            Indented = UsageJsonContext.Default.Options.WriteIndented,
            MaxDepth = UsageJsonContext.Default.Options.MaxDepth,
        });
        json.Reset(bytes);
        JsonSerializer.Serialize(json, record, UsageJsonContext.Default.UsageRecord);
        json.Flush();
        json.Reset(Stream.Null); // holds no reference to the buffer once it is back in the pool
    }

    private static void AddBuckets(RedisValue[] values, ref int n, Dictionary<long, long> set, HashSet<long> dropped)
    {
        values[n++] = set.Count;
        foreach (var (second, amount) in set)
        {
            values[n++] = second;
            values[n++] = amount;
        }

        values[n++] = dropped.Count;
        foreach (var second in dropped)
        {
            values[n++] = second;
        }
    }

    private static void AddRemoved<T>(RedisValue[] values, ref int n, Dictionary<string, T?> entries, int removed)
        where T : struct
    {
        values[n++] = removed;
        foreach (var (id, entry) in entries)
        {
            if (entry is null)
            {
                values[n++] = id;
            }
        }
    }

    private static (int Set, int Removed) Count<T>(Dictionary<string, T?> entries)
        where T : struct
    {
        var set = 0;
        foreach (var (_, entry) in entries)
        {
            set += entry is null ? 0 : 1;
        }

        return (set, entries.Count - set);
    }

    /// <summary>A threshold as stored: "" for the relay's default, else the fraction (round-trip format).</summary>
    private static string Threshold(double? value) => value is { } v ? v.ToString("R", CultureInfo.InvariantCulture) : "";

    /// <summary>
    /// What one commit adds to each month's usage totals, in the building thread's scratch tables (valid until its next
    /// build): see <see cref="RedisTenantJournal"/>'s usage fields.
    /// </summary>
    private static List<(string Month, Dictionary<string, long> Totals)> UsageTotals(List<LedgerEntry> ledger)
    {
        var months = t_months ??= [];
        foreach (var (_, totals) in months)
        {
            totals.Clear();
        }

        var used = 0;
        foreach (var (month, record) in ledger)
        {
            var i = 0;
            while (i < used && !string.Equals(months[i].Month, month, StringComparison.Ordinal))
            {
                i++;
            }

            if (i == used)
            {
                if (used == months.Count)
                {
                    months.Add((month, new Dictionary<string, long>(StringComparer.Ordinal)));
                }
                else
                {
                    months[used] = (month, months[used].Totals);
                }

                used++;
            }

            RedisTenantJournal.AddUsage(months[i].Totals, month, record);
        }

        // Tables of months this commit does not book go (a commit books more than one only at a month's turn).
        if (months.Count > used)
        {
            months.RemoveRange(used, months.Count - used);
        }

        return months;
    }
}
