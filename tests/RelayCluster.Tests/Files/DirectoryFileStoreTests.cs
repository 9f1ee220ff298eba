using System.Text;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Files;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Files;

/// <summary>The directory store on its own, with a manual clock: saving, reading, paging, deleting, limits.</summary>
public sealed class DirectoryFileStoreTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private const long Max = 1024;

    private readonly TempDirectory _directory = new();
    private readonly ManualClock _clock = new(Start);
    private readonly DirectoryFileStore _store;

    public DirectoryFileStoreTests() => _store = NewStore();

    public void Dispose() => _directory.Dispose();

    internal DirectoryFileStore NewStore() => new(new FilesOptions { Path = _directory.Path, DefaultExpirySeconds = 3600 }, _clock);

    internal static MemoryStream Content(string text) => new(Encoding.UTF8.GetBytes(text));

    internal Task<StoredFile> SaveAsync(string tenant, string text = "{}\n", string purpose = "batch", string filename = "in.jsonl", long? expiresAfter = null) =>
        _store.SaveAsync(tenant, filename, purpose, Content(text), expiresAfter, Max, CancellationToken.None);

    [Fact]
    public async Task A_saved_file_reads_back_with_its_metadata_and_exact_bytes()
    {
        var bytes = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        var saved = await _store.SaveAsync("acme", "blob.bin", "user_data", new MemoryStream(bytes), null, Max, CancellationToken.None);

        Assert.Matches("^file-[0-9A-Za-z]{30}$", saved.Id);
        Assert.Equal(new StoredFile(saved.Id, "acme", "blob.bin", "user_data", 256, Start.ToUnixTimeSeconds(), null), saved);
        Assert.Equal(saved, await _store.GetAsync("acme", saved.Id));
        await using var stream = await _store.OpenReadAsync("acme", saved.Id);
        using var copy = new MemoryStream();
        await stream!.CopyToAsync(copy);
        Assert.Equal(bytes, copy.ToArray());
    }

    [Fact]
    public async Task Batch_files_expire_after_the_default_and_an_explicit_expiry_wins()
    {
        var batch = await SaveAsync("acme");
        var explicitly = await SaveAsync("acme", expiresAfter: 7200);
        var vision = await SaveAsync("acme", purpose: "vision", filename: "a.png");

        Assert.Equal(Start.ToUnixTimeSeconds() + 3600, batch.ExpiresAt);
        Assert.Equal(Start.ToUnixTimeSeconds() + 7200, explicitly.ExpiresAt);
        Assert.Null(vision.ExpiresAt);
    }

    [Fact]
    public async Task Ids_follow_the_order_files_were_saved_in_even_within_a_millisecond_and_are_random_beyond_it()
    {
        var ids = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            var file = await SaveAsync("acme");
            Assert.Equal(Start.ToUnixTimeSeconds(), file.CreatedAt); // the clock never moved
            ids.Add(file.Id);
        }

        Assert.Equal(ids.Order(StringComparer.Ordinal), ids);
        Assert.Equal(20, ids.Select(id => id[13..]).Distinct().Count());
        Assert.All(ids.Select(id => id[13..]), random => Assert.Matches("^[0-9A-Za-z]{22}$", random));
    }

    [Fact]
    public async Task An_expired_file_is_invisible_at_its_expiry_and_the_sweep_deletes_it()
    {
        var expiring = await SaveAsync("acme");
        var lasting = await SaveAsync("acme", purpose: "user_data", filename: "keep.txt");

        _clock.Advance(TimeSpan.FromSeconds(3599));
        Assert.NotNull(await _store.GetAsync("acme", expiring.Id));
        Assert.Equal(0, await _store.SweepAsync());

        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(await _store.GetAsync("acme", expiring.Id));
        Assert.Null(await _store.OpenReadAsync("acme", expiring.Id));
        Assert.False(await _store.DeleteAsync("acme", expiring.Id));
        Assert.Equal([lasting.Id], (await _store.ListAsync("acme", null, null, 10, true)).Files.Select(f => f.Id));
        Assert.Equal(2, StoredNames(expiring.Id).Count); // invisible, not yet deleted

        Assert.Equal(1, await _store.SweepAsync());
        Assert.Empty(StoredNames(expiring.Id));
        Assert.NotNull(await _store.GetAsync("acme", lasting.Id));
    }

    [Fact]
    public async Task A_file_over_the_limit_throws_and_leaves_nothing_while_one_at_the_limit_is_stored()
    {
        var error = await Assert.ThrowsAsync<FileTooLargeException>(() => SaveAsync("acme", new string('x', (int)Max + 1)));
        Assert.Equal(Max, error.Limit);
        Assert.Empty(Directory.EnumerateFiles(_directory.Path, "*", SearchOption.AllDirectories));

        var exact = await SaveAsync("acme", new string('x', (int)Max));
        Assert.Equal(Max, exact.Bytes);
    }

    [Fact]
    public async Task An_upload_cancelled_midway_leaves_nothing()
    {
        using var cancellation = new CancellationTokenSource();
        var content = new CancellingStream(cancellation, bytesBeforeCancel: 100);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            _store.SaveAsync("acme", "in.jsonl", "batch", content, null, Max, cancellation.Token));
        Assert.Empty(Directory.EnumerateFiles(_directory.Path, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Staged_content_disposed_without_commit_leaves_nothing()
    {
        await using (var staged = await _store.StageAsync("acme", Content("abc"), Max, CancellationToken.None))
        {
            Assert.Equal(3, staged.Bytes);
            Assert.Single(Directory.EnumerateFiles(_directory.Path, "*", SearchOption.AllDirectories));
        }

        Assert.Empty(Directory.EnumerateFiles(_directory.Path, "*", SearchOption.AllDirectories));
        Assert.Empty((await _store.ListAsync("acme", null, null, 10, true)).Files);
    }

    [Fact]
    public async Task Delete_removes_content_and_metadata_once()
    {
        var file = await SaveAsync("acme");

        Assert.True(await _store.DeleteAsync("acme", file.Id));
        Assert.False(await _store.DeleteAsync("acme", file.Id));
        Assert.Null(await _store.GetAsync("acme", file.Id));
        Assert.Null(await _store.OpenReadAsync("acme", file.Id));
        Assert.Empty(Directory.EnumerateFiles(_directory.Path, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Two_silos_on_one_volume_share_files_and_exactly_one_wins_a_racing_delete()
    {
        var other = NewStore();
        for (var round = 0; round < 20; round++)
        {
            var file = await SaveAsync("acme");
            Assert.Equal(file, await other.GetAsync("acme", file.Id));

            var results = await Task.WhenAll(
                Task.Run(async () => await _store.DeleteAsync("acme", file.Id)),
                Task.Run(async () => await other.DeleteAsync("acme", file.Id)));
            Assert.Single(results, deleted => deleted);
        }

        Assert.Empty(Directory.EnumerateFiles(_directory.Path, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task The_sweep_removes_leftovers_of_crashed_uploads_only_once_they_are_a_day_old()
    {
        var file = await SaveAsync("acme", purpose: "user_data", filename: "keep.txt");
        var directory = Path.GetDirectoryName(Directory.GetFiles(_directory.Path, "*.json", SearchOption.AllDirectories).Single())!;
        var staging = Path.Combine(directory, ".0123.upload");
        var orphan = Path.Combine(directory, "file-00000000orphanorphanorphanorpha.content");
        await File.WriteAllTextAsync(staging, "partial");
        await File.WriteAllTextAsync(orphan, "content whose metadata was never written");
        File.SetLastWriteTimeUtc(staging, Start.UtcDateTime.AddHours(-23));
        File.SetLastWriteTimeUtc(orphan, Start.UtcDateTime.AddHours(-23));

        await _store.SweepAsync();
        Assert.True(File.Exists(staging) && File.Exists(orphan), "younger than a day: maybe an upload still in progress");

        _clock.Advance(TimeSpan.FromHours(2));
        await _store.SweepAsync();
        Assert.False(File.Exists(staging));
        Assert.False(File.Exists(orphan));
        Assert.Equal(2, StoredNames(file.Id).Count); // a whole file is never a leftover, however old
    }

    private List<string> StoredNames(string id) =>
        Directory.EnumerateFiles(_directory.Path, "*", SearchOption.AllDirectories).Where(p => Path.GetFileName(p).Contains(id, StringComparison.Ordinal)).ToList();

    /// <summary>Hands out bytes until a limit, then cancels the upload, as a client hanging up would.</summary>
    private sealed class CancellingStream(CancellationTokenSource cancellation, int bytesBeforeCancel) : MemoryStream(new byte[4096])
    {
        private int _given;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_given >= bytesBeforeCancel)
            {
                await cancellation.CancelAsync();
                cancellationToken.ThrowIfCancellationRequested();
            }

            var read = await base.ReadAsync(buffer[..Math.Min(buffer.Length, bytesBeforeCancel - _given)], cancellationToken);
            _given += read;
            return read;
        }
    }
}
