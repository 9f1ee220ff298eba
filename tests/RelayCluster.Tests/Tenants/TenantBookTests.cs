using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;

namespace RelayCluster.Tests.Tenants;

/// <summary>The tenant's turns without a grain: what they record for a commit, and that a reload equals the book that committed.</summary>
public sealed class TenantBookTests
{
    private static readonly TenantStoreOptions Options = new(60_000);
    private long _now = TenantGrainContract.Start.ToUnixTimeMilliseconds();

    [Fact]
    public void A_book_reloaded_from_its_commits_answers_every_turn_as_the_book_itself()
    {
        var image = new TenantImage();
        var book = new TenantBook("acme", image, Options, _now);
        book.SetLimits(new TenantLimits(5, 1000, 3, 10_000), _now);
        image.Apply(book.TakeChanges());
        for (var i = 0; i < 40; i++)
        {
            _now += 700 * (i % 5); // windows slide, a reservation expires, buckets are replaced
            var admitted = book.Admit(new AdmissionRequest($"r{i}", 10 + i, 100), "silo-a", _now);
            if (admitted.IsAdmitted && i % 3 == 0)
            {
                book.Settle(Settle($"r{i}", 7, 60), _now);
            }
            else if (admitted.IsAdmitted && i % 3 == 1)
            {
                book.Release($"r{i}", _now);
            }

            image.Apply(book.TakeChanges());
            var reloaded = new TenantBook("acme", image, Options, _now);

            Assert.Equal(book.Quota(_now), reloaded.Quota(_now));
            var probe = new AdmissionRequest("probe", 50, 100);
            // The book's own state (not its commits) put through the same probe: a commit that lost anything would differ.
            Assert.Equal(new TenantBook("acme", book.ToImage(_now), Options, _now).Admit(probe, "", _now), reloaded.Admit(probe, "", _now));
        }
    }

    [Fact]
    public void A_commit_drops_the_buckets_that_slid_out_and_keeps_only_what_changed()
    {
        var image = new TenantImage();
        var book = new TenantBook("acme", image, Options, _now);
        book.Admit(new AdmissionRequest("a", 10, 0), "", _now);
        image.Apply(book.TakeChanges());
        Assert.Single(image.Requests);

        _now += 61_000;
        var reloaded = new TenantBook("acme", image, Options, _now);
        var changes = reloaded.TakeChanges();
        Assert.Contains(TenantGrainContract.Start.ToUnixTimeSeconds(), changes.RequestsDropped);
        Assert.Null(changes.State); // nothing else changed: no state to write

        reloaded.Admit(new AdmissionRequest("b", 10, 0), "", _now);
        changes = reloaded.TakeChanges();
        Assert.Equal((1, 1), (changes.Requests.Count, changes.Tokens.Count));
        Assert.NotNull(changes.Reservations["b"]);
        Assert.Null(changes.Reservations["a"]); // past its deadline: reclaimed, and remembered for a late settle
        Assert.NotNull(changes.Reclaimed["a"]);
        Assert.Empty(changes.Ledger);
    }

    [Fact]
    public void Admitting_a_request_id_already_held_counts_it_once()
    {
        var book = new TenantBook("acme", new TenantImage(), Options, _now);
        book.SetLimits(new TenantLimits(2, null, null, 1000), _now);
        Assert.True(book.Admit(new AdmissionRequest("a", 1, 400), "", _now).IsAdmitted);
        Assert.True(book.Admit(new AdmissionRequest("a", 1, 400), "", _now).IsAdmitted); // a retry after an unknown outcome

        var quota = book.Quota(_now);
        Assert.Equal((1L, 1, 400L), (quota.RequestsInWindow, quota.InFlight, quota.ReservedNanos));
    }

    [Fact]
    public void A_precheck_gives_the_refusal_an_admission_would_get_with_its_exact_wait_and_changes_nothing()
    {
        var book = new TenantBook("acme", new TenantImage(), Options, _now);
        book.SetLimits(new TenantLimits(2, null, null, 1000), _now);
        book.TakeChanges();
        Assert.Null(book.Precheck(1.0, _now));
        book.Admit(new AdmissionRequest("a", 1, 10), "", _now);
        _now += 15_000;
        book.Admit(new AdmissionRequest("b", 1, 10), "", _now);
        book.TakeChanges();

        var refused = book.Precheck(1.0, _now);

        Assert.Equal((AdmissionOutcome.RequestsPerMinuteExceeded, TimeSpan.FromSeconds(45)), (refused?.Outcome, refused?.RetryAfter));
        Assert.Equal(refused, book.Admit(new AdmissionRequest("c", 0, 1), "", _now));
        Assert.True(book.Changes.IsEmpty);
        Assert.Equal(2, book.Quota(_now).InFlight);
    }

    [Fact]
    public void A_dead_silos_reservations_are_freed_and_a_late_settle_is_still_booked_once()
    {
        var book = new TenantBook("acme", new TenantImage(), Options, _now);
        book.SetLimits(new TenantLimits(null, null, 2, 1000), _now);
        book.Admit(new AdmissionRequest("on-dead", 1, 400), "silo-dead", _now);
        book.Admit(new AdmissionRequest("on-live", 1, 400), "silo-live", _now);
        Assert.Equal(AdmissionOutcome.ConcurrencyExceeded, book.Admit(new AdmissionRequest("x", 1, 1), "silo-live", _now).Outcome);

        Assert.Equal(1, book.ReclaimSilos(new HashSet<string> { "silo-dead" }, _now));

        var quota = book.Quota(_now);
        Assert.Equal((1, 400L), (quota.InFlight, quota.ReservedNanos));
        Assert.True(book.Admit(new AdmissionRequest("y", 1, 1), "silo-live", _now).IsAdmitted);
        Assert.True(book.Settle(Settle("on-dead", 1, 300), _now));
        Assert.False(book.Settle(Settle("on-dead", 1, 300), _now));
        Assert.Equal(300, book.Quota(_now).SpentNanos);
    }

    [Fact]
    public void A_new_incarnation_forgets_everything_of_the_old_one_in_its_commit()
    {
        var image = new TenantImage();
        var book = new TenantBook("acme", image, Options, _now);
        book.SetLimits(new TenantLimits(1, null, null, 1000), _now);
        book.SetPaused(true);
        book.Admit(new AdmissionRequest("a", 1, 10), "", _now);
        image.Apply(book.TakeChanges());

        book.BeginIncarnation("two", 0, _now);
        image.Apply(book.TakeChanges());

        Assert.Empty(image.Requests);
        Assert.Empty(image.Reservations);
        Assert.Equal(new TenantScalars(TenantLimits.Unlimited, false, "2026-11", 0, "two"), image.State);
    }

    [Fact]
    public void A_request_admitted_again_after_its_reservation_was_reclaimed_is_booked_once_however_often_it_settles()
    {
        var image = new TenantImage();
        var book = new TenantBook("acme", image, Options, _now);
        Assert.True(book.Admit(new AdmissionRequest("again", 1, 100), "silo-a", _now).IsAdmitted);
        Assert.Equal(1, book.ReclaimSilos(new HashSet<string>(["silo-a"]), _now)); // its silo was declared dead
        // The caller retries the admission with the same id (after an unknown outcome): a new reservation.
        Assert.True(book.Admit(new AdmissionRequest("again", 1, 100), "silo-b", _now).IsAdmitted);

        Assert.True(book.Settle(Settle("again", 1, 300), _now));
        Assert.False(book.Settle(Settle("again", 1, 300), _now)); // a retried settle books nothing more
        image.Apply(book.TakeChanges());
        Assert.False(new TenantBook("acme", image, Options, _now).Settle(Settle("again", 1, 300), _now)); // nor after a reload
        Assert.Equal((300L, 0L, 0), (book.Quota(_now).SpentNanos, book.Quota(_now).ReservedNanos, book.Quota(_now).InFlight));
    }

    [Fact]
    public void A_settle_commits_only_the_months_spend_and_one_that_cost_nothing_no_single_value()
    {
        var image = new TenantImage();
        var book = new TenantBook("acme", image, Options, _now);
        book.SetLimits(new TenantLimits(100, null, 5, 10_000), _now);
        book.Admit(new AdmissionRequest("a", 1, 100), "", _now);
        book.Admit(new AdmissionRequest("b", 1, 100), "", _now);
        image.Apply(book.TakeChanges());

        book.Settle(Settle("a", 1, 60), _now);
        var changes = book.TakeChanges();
        Assert.Null(changes.State);
        Assert.Equal(new TenantSpend("2026-11", 60), changes.Spend);
        image.Apply(changes);

        book.Settle(Settle("b", 1, 0), _now);
        changes = book.TakeChanges();
        Assert.Equal((null, null, 1), (changes.State, changes.Spend, changes.Ledger.Count));
        image.Apply(changes);
        Assert.Equal(book.ToImage(_now).State, image.State); // the limits set before stay, the spend moved on

        // A tenant nothing was committed for starts from the defaults, as a reload of a hash holding only month and spend.
        var fresh = new TenantImage();
        var first = new TenantBook("new", fresh, Options, _now);
        first.Settle(Settle("c", 1, 5) with { Unreserved = true }, _now);
        fresh.Apply(first.TakeChanges());
        Assert.Equal(new TenantScalars(TenantLimits.Unlimited, false, "2026-11", 5, ""), fresh.State);
    }

    private Settlement Settle(string requestId, long tokens, long cost) => new(new UsageRecord
    {
        TimestampMs = _now, Tenant = "acme", RequestId = requestId, Endpoint = "/v1/chat/completions", Model = "m", UpstreamModel = "m",
        Provider = "p", PromptTokens = tokens, CostNanos = cost, Ending = Endings.Completed, Status = 200,
    });
}
