using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using RelayCluster.Core.Metering.Reports;

namespace RelayCluster.Core.Metering;

/// <summary>
/// The embedded store's usage log: JSON lines, one file per UTC month (<c>usage-2026-11.jsonl</c>).
/// Appends go through a channel to one writer that group-commits: it writes everything queued, then
/// flushes to the operating system once, so the request path never waits on the disk and a process
/// kill loses nothing already flushed. A batch gathers for a millisecond after its first record unless a flush is
/// asked for. Each batch is one write to the file (records are serialized into one reused
/// buffer, then the file's). The current month is read back at start to restore spend.
/// </summary>
public sealed partial class JsonlUsageLedger : IUsageLedger, IUsageReader, IAsyncDisposable
{
    private static readonly byte[] NewLine = "\n"u8.ToArray();

    /// <summary>How long the writer gathers records after the first of a batch before writing them (real time, not the ledger's clock).</summary>
    private static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(1);

    private readonly string _directory;
    private readonly ILogger<JsonlUsageLedger> _logger;
    private readonly Channel<object> _queue = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<(string Tenant, string Incarnation, string Month), UsageAggregate> _totals = new();
    // A month's file is read into the totals once, before the first record of that month is counted,
    // so records this process appends are never counted a second time by a later load.
    private readonly ConcurrentDictionary<string, Lazy<bool>> _loadedMonths = new(StringComparer.Ordinal);
    private readonly RecentRecords _recent = new();
    private readonly string _startMonth;
    private readonly Task _writer;

    public JsonlUsageLedger(string directory, TimeProvider time, ILogger<JsonlUsageLedger> logger)
    {
        _directory = directory;
        _logger = logger;
        Directory.CreateDirectory(directory);
        _startMonth = Money.MonthOf(time.GetUtcNow());
        EnsureLoaded(_startMonth);
        _writer = Task.Run(WriteLoopAsync);
    }

    public void Append(UsageRecord record) => Append(MonthOf(record), record);

    /// <summary>
    /// Counts the record in <paramref name="month"/> and queues it for that month's file (the month's totals are rebuilt
    /// from its file, so the file decides). Only a record booked across midnight is queued with its month (one allocation).
    /// </summary>
    public void Append(string month, UsageRecord record)
    {
        EnsureLoaded(month);
        Totals(record.Tenant, record.Incarnation ?? "", month).Add(record);
        _recent.Add(record);
        _queue.Writer.TryWrite(month == MonthOf(record) ? record : new BookedRecord(month, record));
    }

    /// <summary>The month's usage of the tenant's records without an incarnation (tenants older than incarnations).</summary>
    public UsageSummary GetSummary(string tenantId, string month) => GetSummary(tenantId, "", month);

    /// <summary>The month's usage of one incarnation of the tenant id.</summary>
    public UsageSummary GetSummary(string tenantId, string incarnation, string month)
    {
        EnsureLoaded(month);
        return Totals(tenantId, incarnation, month).Snapshot();
    }

    public Task<UsageSummary> GetSummaryAsync(string tenantId, string month) => Task.FromResult(GetSummary(tenantId, month));

    public Task<UsageSummary> GetSummaryAsync(string tenantId, string incarnation, string month) => Task.FromResult(GetSummary(tenantId, incarnation, month));

    public Task<IReadOnlyList<UsageSlice>> GetSlicesAsync(string tenantId, string incarnation, string month)
    {
        EnsureLoaded(month);
        return Task.FromResult(_totals.TryGetValue((tenantId, incarnation, month), out var totals) ? totals.Slices() : (IReadOnlyList<UsageSlice>)[]);
    }

    public Task<IReadOnlyList<UsageDay>> GetDaysAsync(string tenantId, string incarnation, string month)
    {
        EnsureLoaded(month);
        return Task.FromResult(_totals.TryGetValue((tenantId, incarnation, month), out var totals) ? totals.Days() : UsageDays.Read(month, []));
    }

    /// <summary>
    /// From the tenant's ring of its latest records (<see cref="RecentRecords"/>): those appended since start and, before
    /// them, the current month's as read back at start (a restart early in a month shows none of the previous month's).
    /// </summary>
    public Task<RecentUsage> GetRecentAsync(string tenantId, string incarnation, int limit) =>
        Task.FromResult(_recent.Latest(tenantId, incarnation, limit));

    /// <summary>Each tenant's spend in the month from records without an incarnation.</summary>
    public IReadOnlyDictionary<string, long> SpentByTenant(string month) =>
        _totals.Where(t => t.Key.Month == month && t.Key.Incarnation.Length == 0)
            .ToDictionary(t => t.Key.Tenant, t => t.Value.CostNanos, StringComparer.Ordinal);

    public long SpentBy(string tenantId, string incarnation, string month)
    {
        EnsureLoaded(month);
        return _totals.TryGetValue((tenantId, incarnation, month), out var totals) ? totals.CostNanos : 0;
    }

    public Task FlushAsync(CancellationToken cancellationToken = default)
    {
        var flushed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return _queue.Writer.TryWrite(flushed) ? flushed.Task.WaitAsync(cancellationToken) : _writer;
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer;
    }

    public string FileOf(string month) => Path.Combine(_directory, $"usage-{month}.jsonl");

    private UsageAggregate Totals(string tenant, string incarnation, string month) =>
        _totals.GetOrAdd((tenant, incarnation, month), key => new UsageAggregate(key.Tenant, key.Month));

    private static string MonthOf(UsageRecord record) => Money.MonthOf(DateTimeOffset.FromUnixTimeMilliseconds(record.TimestampMs));

    private void EnsureLoaded(string month) =>
        _ = _loadedMonths.GetOrAdd(month, m => new Lazy<bool>(() => LoadMonth(m))).Value;

    private bool LoadMonth(string month)
    {
        var file = FileOf(month);
        if (!File.Exists(file))
        {
            return true;
        }

        var lineNumber = 0;
        foreach (var line in File.ReadLines(file))
        {
            lineNumber++;
            if (line.Length == 0)
            {
                continue;
            }

            try
            {
                var record = JsonSerializer.Deserialize(line, UsageJsonContext.Default.UsageRecord);
                if (record is not null)
                {
                    Totals(record.Tenant, record.Incarnation ?? "", month).Add(record);
                    if (month == _startMonth)
                    {
                        _recent.Add(record); // loaded in the constructor, before any append: the ring stays in log order
                    }
                }
            }
            catch (JsonException)
            {
                // Only a crash in the middle of a write leaves a partial line, and it can only be the last one.
                Log.SkippedTornLine(_logger, file, lineNumber);
            }
        }

        return true;
    }

    private async Task WriteLoopAsync()
    {
        var files = new Dictionary<string, FileStream>(StringComparer.Ordinal);
        var pendingFlushes = new List<TaskCompletionSource>();
        var line = new ArrayBufferWriter<byte>(1024);
        await using var json = new Utf8JsonWriter(line);
        try
        {
            while (await _queue.Reader.WaitToReadAsync())
            {
                if (WriteQueued(files, pendingFlushes, line, json) && pendingFlushes.Count == 0)
                {
                    // Under load records come one at a time, so each batch was one record: a wake-up of this loop and
                    // a write system call per request (~4 % of a silo's CPU). Waiting a moment gathers the records of
                    // that moment into the same write. Nobody waits on it: a batch with a flush request is written at once, and a
                    // FlushAsync that comes during the wait waits at most that moment.
                    await Task.Delay(Linger);
                    WriteQueued(files, pendingFlushes, line, json);
                }

                foreach (var stream in files.Values)
                {
                    // Synchronously: this loop has its own thread-pool turn, and FlushAsync handed each batch's
                    // write to another work item (4 % of a silo's CPU in the profile, mostly that hop).
                    stream.Flush();
                }

                pendingFlushes.ForEach(f => f.TrySetResult());
                pendingFlushes.Clear();
            }
        }
        catch (IOException ex)
        {
            Log.WriteFailed(_logger, ex);
            pendingFlushes.ForEach(f => f.TrySetException(ex));
            throw;
        }
        finally
        {
            foreach (var stream in files.Values)
            {
                await stream.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// Writes every queued record into its month's file buffer and gathers the flush requests queued with them;
    /// true if a record was written.
    /// </summary>
    private bool WriteQueued(Dictionary<string, FileStream> files, List<TaskCompletionSource> pendingFlushes, ArrayBufferWriter<byte> line, Utf8JsonWriter json)
    {
        var wrote = false;
        while (_queue.Reader.TryRead(out var item))
        {
            if (item is TaskCompletionSource flush)
            {
                pendingFlushes.Add(flush);
                continue;
            }

            var (month, record) = item is BookedRecord booked ? (booked.Month, booked.Record) : (MonthOf((UsageRecord)item), (UsageRecord)item);
            if (!files.TryGetValue(month, out var stream))
            {
                stream = new FileStream(FileOf(month), FileMode.Append, FileAccess.Write, FileShare.Read, 64 * 1024);
                files[month] = stream;
            }

            // Into one reused buffer, then the file's own buffer: a Utf8JsonWriter over the FileStream
            // flushed the stream per record (a write system call each, ~10 % of a silo's CPU under load).
            // The batch reaches the operating system in the loop's Flush.
            line.Clear();
            json.Reset(line);
            JsonSerializer.Serialize(json, record, UsageJsonContext.Default.UsageRecord);
            line.Write(NewLine);
            stream.Write(line.WrittenSpan);
            wrote = true;
        }

        return wrote;
    }

    /// <summary>A record booked into another month than its timestamp's.</summary>
    private sealed record BookedRecord(string Month, UsageRecord Record);

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Skipped a torn line {Line} in usage log {File}")]
        public static partial void SkippedTornLine(ILogger logger, string file, int line);

        [LoggerMessage(Level = LogLevel.Critical, Message = "The usage log could not be written; usage records are no longer durable")]
        public static partial void WriteFailed(ILogger logger, Exception exception);
    }
}
