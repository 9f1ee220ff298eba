using RelayCluster.Core.Configuration;
using RelayCluster.Core.Files;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Files;

/// <summary>
/// The per-tenant index behind listings and the storage count: correct when two silos (two stores) write one
/// shared directory, no per-file reads on a quiet directory, and the count right after expiry and sweeps.
/// </summary>
public sealed class FileIndexTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly TempDirectory _directory = new();
    private readonly ManualClock _clock = new(Start);
    private readonly DirectoryFileStore _silo1;
    private readonly DirectoryFileStore _silo2;

    public FileIndexTests()
    {
        var options = new FilesOptions { Path = _directory.Path, MaxBytesPerTenant = 100 };
        _silo1 = new DirectoryFileStore(options, _clock);
        _silo2 = new DirectoryFileStore(options, _clock);
    }

    public void Dispose() => _directory.Dispose();

    private static Task<StoredFile> SaveAsync(DirectoryFileStore store, int bytes, long? expiresAfter = null) =>
        store.SaveAsync("acme", "f.bin", "user_data", new MemoryStream(new byte[bytes]), expiresAfter, 1024, CancellationToken.None);

    private static async Task<StoredFile> UploadAsync(DirectoryFileStore store, int bytes)
    {
        await using var staged = await store.StageAsync("acme", new MemoryStream(new byte[bytes]), 1024, CancellationToken.None);
        return await staged.CommitAsync("f.bin", "user_data", null, CancellationToken.None);
    }

    private static async Task<List<string>> IdsAsync(DirectoryFileStore store, bool descending = false) =>
        [.. (await store.ListAsync("acme", null, null, 1000, descending)).Files.Select(f => f.Id)];

    /// <summary>Makes the tenant directory look long unwritten, so the next scan is trusted (not in the racy window).</summary>
    private void AgeDirectory() => Directory.SetLastWriteTimeUtc(Path.Combine(_directory.Path, "acme"), DateTime.UtcNow.AddHours(-1));

    [Fact]
    public async Task Each_silo_lists_and_counts_the_files_the_other_creates_and_deletes_at_once()
    {
        var a = await SaveAsync(_silo1, 10);
        Assert.Equal([a.Id], await IdsAsync(_silo2)); // silo 2's index is built and holds a

        _clock.Advance(TimeSpan.FromMilliseconds(5));
        var b = await SaveAsync(_silo2, 20);
        _clock.Advance(TimeSpan.FromMilliseconds(5));
        var c = await SaveAsync(_silo1, 30);
        Assert.Equal([a.Id, b.Id, c.Id], await IdsAsync(_silo1));
        Assert.Equal([c.Id, b.Id, a.Id], await IdsAsync(_silo2, descending: true));

        Assert.True(await _silo2.DeleteAsync("acme", a.Id));
        Assert.Equal([b.Id, c.Id], await IdsAsync(_silo1));
        Assert.Equal(50, (await _silo1.GetUsageAsync("acme")).Bytes);
        Assert.Equal(50, (await _silo2.GetUsageAsync("acme")).Bytes);

        // Silo 1's uploads see silo 2's files: 50 stored, 50 left.
        await Assert.ThrowsAsync<StorageQuotaExceededException>(() => UploadAsync(_silo1, 51));
        await UploadAsync(_silo1, 50);
        Assert.Equal(100, (await _silo2.GetUsageAsync("acme")).Bytes);
        await Assert.ThrowsAsync<StorageQuotaExceededException>(() => UploadAsync(_silo2, 1));
    }

    [Fact]
    public async Task A_quiet_directory_is_listed_from_the_index_without_reading_any_file_again()
    {
        var files = new List<StoredFile>();
        for (var i = 0; i < 5; i++)
        {
            _clock.Advance(TimeSpan.FromMilliseconds(1));
            files.Add(await SaveAsync(_silo1, 1));
        }

        AgeDirectory();
        Assert.Equal(files.Select(f => f.Id), await IdsAsync(_silo2)); // one scan, trusted

        // Unreadable metadata in place (no rename, so the directory's time stays): a listing that read the files
        // again would drop it; the index still has it.
        await File.WriteAllTextAsync(Path.Combine(_directory.Path, "acme", files[2].Id + ".json"), "torn");
        Assert.Equal(files.Select(f => f.Id), await IdsAsync(_silo2));

        // Any create or delete moves the directory's time, and the index reads only what is new.
        var added = await SaveAsync(_silo1, 1);
        Assert.Equal([.. files.Select(f => f.Id), added.Id], await IdsAsync(_silo2));
    }

    [Fact]
    public async Task Expired_files_stop_counting_at_expiry_and_sweeps_by_either_silo_keep_the_count_exact()
    {
        var expiring = await SaveAsync(_silo1, 60, expiresAfter: 3600);
        await SaveAsync(_silo1, 30);
        await Assert.ThrowsAsync<StorageQuotaExceededException>(() => UploadAsync(_silo2, 11));

        _clock.Advance(TimeSpan.FromHours(1));
        Assert.Equal(30, (await _silo2.GetUsageAsync("acme")).Bytes);
        Assert.Equal(1, (await _silo2.GetUsageAsync("acme")).Files);
        var upload = await UploadAsync(_silo2, 70); // fits only because the expired file no longer counts

        Assert.Equal(1, await _silo1.SweepAsync());
        Assert.Null(await _silo2.GetAsync("acme", expiring.Id));
        Assert.Equal(100, (await _silo1.GetUsageAsync("acme")).Bytes);
        Assert.Equal(100, (await _silo2.GetUsageAsync("acme")).Bytes);
        Assert.Contains(upload.Id, await IdsAsync(_silo1));
    }

    [Fact]
    public async Task The_relays_own_outputs_are_never_refused_but_count_against_later_uploads()
    {
        await SaveAsync(_silo1, 90);
        await SaveAsync(_silo1, 90); // a batch output: SaveAsync takes no storage limit

        Assert.Equal(180, (await _silo1.GetUsageAsync("acme")).Bytes);
        await Assert.ThrowsAsync<StorageQuotaExceededException>(() => UploadAsync(_silo1, 1));
        Assert.Equal(0, (await _silo1.GetUsageAsync("acme")).UploadingBytes);
        Assert.Empty(Directory.GetFiles(Path.Combine(_directory.Path, "acme"), ".*")); // the refused upload left nothing
    }

    [Fact]
    public async Task A_long_upload_counts_files_another_silo_stored_while_it_was_streaming()
    {
        const int MiB = 1024 * 1024;
        var options = new FilesOptions { Path = _directory.Path, MaxBytesPerTenant = 3 * MiB };
        var silo1 = new DirectoryFileStore(options, _clock);
        var silo2 = new DirectoryFileStore(options, _clock);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var body = new GatedStream(new byte[(5 * MiB) / 2], (5 * MiB) / 4, gate.Task);

        var upload = silo1.StageAsync("acme", body, 10 * MiB, CancellationToken.None);
        await body.Reached.WaitAsync(TimeSpan.FromSeconds(20)); // silo 1 holds 1.25 MiB and waits for more
        // Silo 2 does not see silo 1's upload in progress (see NOTES), and stores 1 MiB.
        await using (var other = await silo2.StageAsync("acme", new MemoryStream(new byte[MiB]), 10 * MiB, CancellationToken.None))
        {
            await other.CommitAsync("other.bin", "user_data", null, CancellationToken.None);
        }

        gate.SetResult();

        // Without re-reading the directory silo 1 would finish at 2.5 MiB, 3.5 MiB in all.
        await Assert.ThrowsAsync<StorageQuotaExceededException>(() => upload);
        Assert.Equal(MiB, (await silo1.GetUsageAsync("acme")).Bytes);
        Assert.Equal(0, (await silo1.GetUsageAsync("acme")).UploadingBytes);
    }

    /// <summary>Content that stops at <paramref name="pauseAt"/> bytes (signalling <see cref="Reached"/>) until the gate opens.</summary>
    private sealed class GatedStream(byte[] content, int pauseAt, Task gate) : Stream
    {
        private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _position;

        public Task Reached => _reached.Task;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => content.Length;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_position == pauseAt)
            {
                _reached.TrySetResult();
                await gate.WaitAsync(cancellationToken);
            }

            var end = _position < pauseAt ? pauseAt : content.Length;
            var count = Math.Min(buffer.Length, end - _position);
            content.AsMemory(_position, count).CopyTo(buffer);
            _position += count;
            return count;
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Fact]
    public async Task A_file_committed_after_a_stale_no_directory_check_stays_counted()
    {
        // Upload X checks the tenant's directory before upload Y creates it; Y then stores a file and commits it to the
        // index before X goes on. X's stale "no directory" must not clear Y's file, or the limit no longer holds.
        var directory = Path.Combine(_directory.Path, "race");
        var committed = new StoredFile("file-race", "race", "f.bin", "user_data", 60, 1, null);
        TenantFileIndex? index = null;
        var checks = 0;
        index = new TenantFileIndex(path =>
        {
            var existed = Directory.Exists(path);
            if (Interlocked.Increment(ref checks) == 1)
            {
                Directory.CreateDirectory(path); // Y, between X's check and what X does with it
                Assert.True(index!.TryReserve(60, 100, 0));
                index.Add(committed, 60);
            }

            return existed;
        });

        await index.RefreshAsync(directory, (_, _) => ValueTask.FromResult<StoredFile?>(null), CancellationToken.None);

        Assert.Equal((1, 60L, 0L), index.Usage(now: 0));
        Assert.False(index.TryReserve(41, 100, 0)); // 60 stored + 41 passes 100
        Assert.True(index.TryReserve(40, 100, 0));
    }
}
