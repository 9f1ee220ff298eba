using RelayCluster.Core.Configuration;
using RelayCluster.Core.Files;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Files;

/// <summary>Listing and paging, tenant isolation, and ids or tenant ids that try to name other paths.</summary>
public sealed class DirectoryFileStoreListTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly TempDirectory _directory = new();
    private readonly ManualClock _clock = new(Start);
    private readonly DirectoryFileStore _store;

    public DirectoryFileStoreListTests() => _store = new(new FilesOptions { Path = _directory.Path }, _clock);

    public void Dispose() => _directory.Dispose();

    private Task<StoredFile> SaveAsync(string tenant, string purpose = "batch") =>
        _store.SaveAsync(tenant, "in.jsonl", purpose, new MemoryStream("{}\n"u8.ToArray()), null, 1024, CancellationToken.None);

    /// <summary>Seven files; some share a second or even a millisecond, others do not.</summary>
    private async Task<List<string>> SaveSevenAsync(string tenant = "acme")
    {
        var ids = new List<string>();
        foreach (var step in new[] { 0, 1, 1000, 0, 5, 2000, 999 })
        {
            _clock.Advance(TimeSpan.FromMilliseconds(step));
            ids.Add((await SaveAsync(tenant, ids.Count % 2 == 0 ? "batch" : "user_data")).Id);
        }

        return ids;
    }

    [Fact]
    public async Task Lists_newest_first_or_oldest_first_ordered_by_created_at_then_id()
    {
        var ids = await SaveSevenAsync();

        var descending = (await _store.ListAsync("acme", null, null, 100, descending: true)).Files;
        var ascending = (await _store.ListAsync("acme", null, null, 100, descending: false)).Files;

        Assert.Equal(ascending.OrderBy(f => f.CreatedAt).ThenBy(f => f.Id, StringComparer.Ordinal).Select(f => f.Id), ascending.Select(f => f.Id));
        Assert.Equal(ascending.Select(f => f.Id).Reverse(), descending.Select(f => f.Id));
        Assert.Equal(ids, ascending.Select(f => f.Id)); // in the order saved, within a second or millisecond or not
    }

    [Theory]
    [InlineData(true, 1)]
    [InlineData(true, 3)]
    [InlineData(false, 2)]
    [InlineData(false, 7)]
    public async Task Paging_with_the_after_cursor_yields_every_file_once_in_order(bool descending, int limit)
    {
        await SaveSevenAsync();
        var all = (await _store.ListAsync("acme", null, null, 100, descending)).Files.Select(f => f.Id).ToList();

        var seen = new List<string>();
        string? after = null;
        var pages = 0;
        while (true)
        {
            var page = await _store.ListAsync("acme", null, after, limit, descending);
            Assert.InRange(page.Files.Count, 1, limit);
            seen.AddRange(page.Files.Select(f => f.Id));
            pages++;
            Assert.Equal(seen.Count < all.Count, page.HasMore);
            if (!page.HasMore)
            {
                break;
            }

            after = page.Files[^1].Id;
        }

        Assert.Equal(all, seen);
        Assert.Equal((int)Math.Ceiling(7.0 / limit), pages);
    }

    [Fact]
    public async Task The_cursor_still_works_after_its_file_was_deleted_and_purpose_filters()
    {
        var ids = await SaveSevenAsync();
        var ascending = ids.Order(StringComparer.Ordinal).ToList();
        Assert.True(await _store.DeleteAsync("acme", ascending[2]));

        var rest = await _store.ListAsync("acme", null, ascending[2], 100, descending: false);
        Assert.Equal(ascending[3..], rest.Files.Select(f => f.Id));

        var batch = await _store.ListAsync("acme", "batch", null, 100, descending: false);
        Assert.Equal(ids.Where((id, i) => i % 2 == 0 && id != ascending[2]).Order(StringComparer.Ordinal), batch.Files.Select(f => f.Id));
        Assert.All(batch.Files, f => Assert.Equal("batch", f.Purpose));
        Assert.Empty((await _store.ListAsync("acme", "vision", null, 100, true)).Files);
    }

    [Fact]
    public async Task A_tenant_never_sees_reads_or_deletes_another_tenants_file()
    {
        var mine = await SaveAsync("acme");
        var theirs = await SaveAsync("globex");

        Assert.Null(await _store.GetAsync("globex", mine.Id));
        Assert.Null(await _store.OpenReadAsync("globex", mine.Id));
        Assert.False(await _store.DeleteAsync("globex", mine.Id));
        Assert.Equal([theirs.Id], (await _store.ListAsync("globex", null, null, 100, true)).Files.Select(f => f.Id));
        Assert.Equal(mine, await _store.GetAsync("acme", mine.Id)); // untouched by the other tenant's delete
    }

    [Theory]
    [InlineData("../escape")]
    [InlineData("..")]
    [InlineData(".")]
    [InlineData("a/b")]
    [InlineData("a\\b")]
    [InlineData("/etc")]
    [InlineData("ACME")]
    [InlineData("acme~2e")]
    [InlineData("t\u00e9nant\0")]
    public async Task Hostile_tenant_ids_stay_in_a_directory_of_their_own_under_the_root(string tenant)
    {
        var honest = await SaveAsync("acme");
        var file = await SaveAsync(tenant);

        var directories = Directory.GetDirectories(_directory.Path);
        Assert.Equal(2, directories.Length);
        Assert.Empty(Directory.GetFiles(_directory.Path)); // nothing at the root itself
        var own = Path.GetDirectoryName(Directory.GetFiles(_directory.Path, file.Id + ".json", SearchOption.AllDirectories).Single())!;
        Assert.Equal(_directory.Path, Path.GetDirectoryName(own));
        Assert.DoesNotContain(Path.GetFileName(own), new[] { ".", "..", "acme" });
        Assert.Null(await _store.GetAsync("acme", file.Id));
        Assert.Null(await _store.GetAsync(tenant, honest.Id));
        Assert.Equal(file, await _store.GetAsync(tenant, file.Id));
    }

    [Fact]
    public async Task A_very_long_tenant_id_gets_a_short_directory_name_of_its_own()
    {
        var a = await SaveAsync(new string('a', 300));
        var b = await SaveAsync(new string('a', 299) + "b");

        Assert.Null(await _store.GetAsync(new string('a', 299) + "b", a.Id));
        Assert.Equal(b, await _store.GetAsync(new string('a', 299) + "b", b.Id));
        Assert.All(Directory.GetDirectories(_directory.Path), d => Assert.InRange(Path.GetFileName(d).Length, 1, 200));
    }

    [Theory]
    [InlineData("../../etc/passwd")]
    [InlineData("file-../../../../etc/passwd")]
    [InlineData("file-")]
    [InlineData("")]
    [InlineData("file-0000000000000000000000000000/")]
    public async Task Ids_that_are_not_file_ids_are_simply_not_found(string id)
    {
        await SaveAsync("acme");

        Assert.Null(await _store.GetAsync("acme", id));
        Assert.Null(await _store.OpenReadAsync("acme", id));
        Assert.False(await _store.DeleteAsync("acme", id));
    }
}
