using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Tenants;

/// <summary>
/// Budget thresholds in the tenant's own turns (no grain): a crossing is recorded once per threshold and month in the
/// settle that reaches it, goes into the commit with that settle, pauses at the pause threshold, is re-armed by an admin
/// change that puts spend below it, and a new month starts afresh; a reload (the embedded settings log) gives it back.
/// </summary>
public sealed class BudgetThresholdTests
{
    private const long Budget = 1_000_000; // nano-dollars
    private static readonly TenantStoreOptions Options = new(60_000); // defaults: alert 0.80, pause 0.95
    private static readonly DateTimeOffset Start = new(2026, 11, 15, 12, 0, 0, TimeSpan.Zero);
    private long _now = Start.ToUnixTimeMilliseconds();
    private int _requests;

    private TenantBook NewBook(TenantLimits? limits = null)
    {
        var book = new TenantBook("acme", new TenantImage(), Options, _now);
        book.SetLimits(limits ?? new TenantLimits(null, null, null, Budget), _now);
        book.TakeChanges();
        return book;
    }

    [Fact]
    public void The_alert_is_crossed_once_in_the_settle_that_reaches_it_and_goes_into_that_commit()
    {
        var book = NewBook();
        Spend(book, 799_999);
        Assert.Empty(book.Crossings);
        Assert.Null(book.TakeChanges().Crossings); // a settle below the threshold commits no crossing (the hot path's commit stays small)

        Spend(book, 1); // exactly 0.80 × budget crosses
        var changes = book.TakeChanges();
        var alert = Assert.Single(changes.Crossings!);
        Assert.Equal((BudgetCrossing.Alert, 1, 0.80, "2026-11", _now, 800_000L, Budget, false), (alert.Kind, alert.Sequence, alert.Threshold, alert.Month, alert.CrossedAtMs, alert.SpentNanos, alert.BudgetNanos, alert.Rearmed));
        Assert.Equal(AlertDelivery.New, alert.Delivery);
        Assert.Single(changes.Ledger); // with the settle's own record: one commit
        Assert.Equal("acme:2026-11:alert", alert.EventId("acme"));
        Assert.Equal(1, book.PendingDeliveries);

        for (var i = 0; i < 10; i++)
        {
            Spend(book, 1_000);
        }

        Assert.Single(book.Crossings);
        Assert.Null(book.TakeChanges().Crossings);
        Assert.True(book.Admit(Request(), "", _now).IsAdmitted); // an alert never refuses
    }

    [Fact]
    public void One_settle_past_both_thresholds_crosses_both_and_pauses_the_tenant_by_its_threshold()
    {
        var book = NewBook();
        Spend(book, 960_000);
        Assert.Equal([BudgetCrossing.Alert, BudgetCrossing.Pause], book.Crossings.Select(c => c.Kind));
        Assert.Equal(2, book.PendingDeliveries);

        var refused = book.Admit(Request(), "", _now);
        Assert.Equal(AdmissionOutcome.Paused, refused.Outcome);
        Assert.Equal(new BudgetPause(960_000, Budget, 0.95), refused.Pause);
        Assert.Equal(refused, book.Precheck(1, _now));
        var alerts = book.Alerts(_now);
        Assert.True(alerts.Paused && alerts.PausedByThreshold);
    }

    [Fact]
    public void A_threshold_too_small_to_be_a_whole_nano_dollar_is_crossed_by_the_first_spend_not_by_none()
    {
        // 1e-30 is above zero (a valid threshold) but below what a decimal holds: crossed once anything is spent, never at zero.
        var book = NewBook(new TenantLimits(null, null, null, Budget, AlertThreshold: 1e-30, PauseThreshold: 0));
        Assert.Empty(book.Crossings);
        Spend(book, 0);
        Assert.Empty(book.Crossings);
        Spend(book, 1);
        Assert.Equal((BudgetCrossing.Alert, 1L), (Assert.Single(book.Crossings).Kind, book.Crossings[0].SpentNanos));
    }

    [Fact]
    public void A_tenant_created_again_under_its_id_in_the_same_month_alerts_with_an_event_id_a_receiver_has_not_seen()
    {
        // Receivers drop a repeated event id (delivery is at least once): the new tenant's first alert must not repeat the old one's.
        var book = NewBook();
        book.BeginIncarnation("0123456789abcdef01234567", 0, _now);
        book.SetLimits(new TenantLimits(null, null, null, Budget), _now);
        Spend(book, 800_000);
        var first = Assert.Single(book.Crossings).EventId("acme");

        book.BeginIncarnation("fedcba9876543210fedcba98", 0, _now); // deleted and created again
        book.SetLimits(new TenantLimits(null, null, null, Budget), _now);
        Spend(book, 800_000);
        var second = Assert.Single(book.Crossings).EventId("acme");

        Assert.NotEqual(first, second);
        Assert.Equal(("acme@01234567:2026-11:alert", "acme@fedcba98:2026-11:alert"), (first, second));
    }

    [Fact]
    public void A_threshold_pause_like_a_spent_budget_leaves_calls_that_cost_nothing_through_and_an_admins_pause_does_not()
    {
        // Reading a batch's output, cancelling it or taking a stream token puts no money at risk: a pause that protects
        // the budget must not lock the tenant out of what it already paid for.
        var book = NewBook();
        Spend(book, 960_000);
        Assert.Equal(AdmissionOutcome.Paused, book.Admit(Request(), "", _now).Outcome);
        Assert.True(book.Admit(new AdmissionRequest("read-output", 0, 0), "", _now).IsAdmitted);

        book.SetPaused(true); // the admin's own pause stops everything
        var refused = book.Admit(new AdmissionRequest("read-again", 0, 0), "", _now);
        Assert.Equal((AdmissionOutcome.Paused, (BudgetPause?)null), (refused.Outcome, refused.Pause));
    }

    [Fact]
    public void Crossings_stored_before_they_named_an_incarnation_load_and_keep_their_event_id()
    {
        const string Stored = """[{"kind":"pause","sequence":1,"threshold":0.95,"month":"2026-11","crossed_at":1,"spent_nanos":2,"budget_nanos":3,"rearmed":false,"delivery":{"status":"pending","attempts":1}}]""";
        var crossing = Assert.Single(BudgetCrossingJson.Read(Stored));
        Assert.Equal(("", "acme:2026-11:pause", 1), (crossing.Incarnation, crossing.EventId("acme"), crossing.Delivery.Attempts));
        var nulled = Assert.Single(BudgetCrossingJson.Read(Stored.Replace("\"rearmed\"", "\"incarnation\":null,\"rearmed\"", StringComparison.Ordinal)));
        Assert.Equal("acme:2026-11:pause", nulled.EventId("acme"));
    }

    [Fact]
    public void A_stored_crossing_missing_its_fields_is_dropped_and_never_keeps_the_tenant_from_loading()
    {
        // "An unreadable value loses the outbox, never the tenant": a crossing without kind, month or delivery is unreadable too.
        const string Stored = """[{"kind":"alert","sequence":1},{"kind":"pause","sequence":1,"threshold":0.95,"month":"2026-11","delivery":{"status":"pending"}}]""";
        var crossing = Assert.Single(BudgetCrossingJson.Read(Stored));
        Assert.Equal(BudgetCrossing.Pause, crossing.Kind);
        var book = new TenantBook("acme", new TenantImage { Crossings = [new BudgetCrossing(null!, 1, 0.8, null!, 0, 0, 0, false, null!), crossing] }, Options, _now);
        Assert.Equal(1, book.PendingDeliveries);
    }

    [Fact]
    public void Requests_in_flight_at_the_pause_still_settle_and_nothing_crosses_twice()
    {
        var book = NewBook();
        Assert.True(book.Admit(new AdmissionRequest("in-flight", 10, 10_000), "", _now).IsAdmitted);
        Spend(book, 950_000);
        Assert.Equal(AdmissionOutcome.Paused, book.Admit(Request(), "", _now).Outcome);

        Assert.True(book.Settle(Settlement("in-flight", 5_000, reserved: true), _now));
        Assert.Equal(955_000, book.Quota(_now).SpentNanos);
        Assert.Equal(2, book.Crossings.Count);
    }

    [Fact]
    public void An_admin_resume_lifts_a_threshold_pause_for_the_rest_of_the_month_and_an_admin_pause_says_so()
    {
        var book = NewBook();
        Spend(book, 950_000);
        book.SetPaused(false);
        Assert.True(book.Admit(Request(), "", _now).IsAdmitted);
        Spend(book, 10_000); // still past the threshold: it was crossed this month already
        Assert.Equal(2, book.Crossings.Count);
        Assert.False(book.Quota(_now).Paused);

        book.SetPaused(true);
        var refused = book.Admit(Request(), "", _now);
        Assert.Equal(AdmissionOutcome.Paused, refused.Outcome);
        Assert.Null(refused.Pause); // the admin's: the 403 says "paused by an administrator"
        Assert.False(book.Alerts(_now).PausedByThreshold);
    }

    [Fact]
    public void Raising_the_budget_re_arms_the_thresholds_below_the_spend_and_resumes_a_threshold_pause()
    {
        var book = NewBook();
        Spend(book, 960_000);
        book.TakeChanges();

        var limits = book.UpdateLimits(new TenantLimitsPatch(default, default, default, Change<long?>.To(1_100_000)), _now);
        Assert.Equal(1_100_000, limits.MonthlyBudgetNanos);
        // 960 of 1100 is 0.87: still past the alert (it stays crossed), below the pause (re-armed, and the pause lifted).
        Assert.True(book.Admit(Request(), "", _now).IsAdmitted);
        Assert.Equal([(BudgetCrossing.Alert, false), (BudgetCrossing.Pause, true)], book.Crossings.Select(c => (c.Kind, c.Rearmed)));
        Assert.False(book.Alerts(_now).PausedByThreshold);
    }

    [Fact]
    public void Raising_the_budget_above_both_re_arms_both_and_the_next_crossing_alerts_again_with_its_own_id()
    {
        var book = NewBook();
        Spend(book, 960_000);
        book.TakeChanges();

        book.UpdateLimits(new TenantLimitsPatch(default, default, default, Change<long?>.To(2 * Budget)), _now);
        Assert.True(book.Admit(Request(), "", _now).IsAdmitted);
        Assert.All(book.Crossings, c => Assert.True(c.Rearmed));
        Assert.NotNull(book.TakeChanges().Crossings);

        Spend(book, 700_000); // 1.66 of 2.0 = 0.83: the alert again
        var again = Assert.Single(book.Crossings, c => !c.Rearmed);
        Assert.Equal((BudgetCrossing.Alert, 2, "acme:2026-11:alert:2"), (again.Kind, again.Sequence, again.EventId("acme")));
    }

    [Fact]
    public void A_manual_pause_survives_a_budget_raise_and_a_new_month_a_threshold_pause_does_not()
    {
        var manual = NewBook();
        manual.SetPaused(true);
        Spend(manual, 960_000);
        Assert.False(manual.Alerts(_now).PausedByThreshold); // crossed while paused by an admin: the pause stays the admin's
        manual.UpdateLimits(new TenantLimitsPatch(default, default, default, Change<long?>.To(10 * Budget)), _now);
        Assert.True(manual.Quota(_now).Paused);

        var byThreshold = NewBook();
        Spend(byThreshold, 960_000);
        _now = new DateTimeOffset(2026, 12, 1, 0, 0, 1, TimeSpan.Zero).ToUnixTimeMilliseconds();
        Assert.True(byThreshold.Admit(Request(), "", _now).IsAdmitted);
        Assert.True(manual.Quota(_now).Paused);
    }

    [Fact]
    public void A_new_month_forgets_the_old_months_delivered_crossings_keeps_pending_ones_and_crosses_afresh()
    {
        var book = NewBook();
        Spend(book, 960_000);
        var alert = book.Crossings[0];
        Assert.True(book.RecordDelivery(alert, new AlertDelivery(AlertDelivery.Delivered, 1, _now, null, null, _now)));
        Assert.False(book.RecordDelivery(alert, new AlertDelivery(AlertDelivery.Failed, 2))); // recorded once: it is no longer pending

        _now = new DateTimeOffset(2026, 12, 1, 0, 0, 1, TimeSpan.Zero).ToUnixTimeMilliseconds();
        Assert.Equal(0, book.Quota(_now).SpentNanos);
        var kept = Assert.Single(book.Crossings); // the November pause webhook is still to deliver
        Assert.Equal((BudgetCrossing.Pause, "2026-11"), (kept.Kind, kept.Month));

        Spend(book, 800_000);
        var december = Assert.Single(book.Crossings, c => c.Month == "2026-12");
        Assert.Equal(("acme:2026-12:alert", 1), (december.EventId("acme"), december.Sequence));
    }

    [Theory]
    [InlineData(null, 0.8, 0.95)]
    [InlineData(0L, 0.8, 0.95)]
    [InlineData(Budget, 0.0, 0.0)]
    public void No_budget_a_zero_budget_or_thresholds_at_zero_cross_nothing(long? budget, double alert, double pause)
    {
        var book = NewBook(new TenantLimits(null, null, null, budget, alert, pause));
        Spend(book, 2 * Budget, unreserved: true);
        Assert.Empty(book.Crossings);
        Assert.False(book.Quota(_now).Paused);
    }

    [Fact]
    public void A_tenants_own_thresholds_win_over_the_defaults_and_lowering_the_budget_below_the_spend_crosses()
    {
        var book = NewBook(new TenantLimits(null, null, null, Budget, AlertThreshold: 0.5, PauseThreshold: 0));
        Spend(book, 500_000);
        Assert.Equal(0.5, Assert.Single(book.Crossings).Threshold);

        var strict = NewBook(new TenantLimits(null, null, null, 10 * Budget));
        Spend(strict, 960_000);
        Assert.Empty(strict.Crossings);
        strict.UpdateLimits(new TenantLimitsPatch(default, default, default, Change<long?>.To(Budget)), _now);
        Assert.Equal(2, strict.Crossings.Count); // one rule: spend at or past threshold × budget, whichever side moved
        Assert.True(strict.Alerts(_now).PausedByThreshold);
    }

    [Fact]
    public async Task The_embedded_settings_log_gives_thresholds_crossings_deliveries_and_the_pause_back_after_a_restart()
    {
        using var data = new TempDirectory();
        var path = Path.Combine(data.Path, "tenants.jsonl");
        var clock = new ManualClock(Start);
        var ledger = new RecordingLedger();
        var first = new EmbeddedTenantJournal(ledger, clock, settingsPath: path);
        var (epoch, image) = await first.LoadAsync("acme");
        var book = new TenantBook("acme", image, Options, _now);
        book.SetLimits(new TenantLimits(null, null, null, Budget, 0.7, 0.9, "https://hooks.example/secret"), _now);
        Spend(book, 950_000);
        book.RecordDelivery(book.Crossings[0], new AlertDelivery(AlertDelivery.Pending, 1, _now, "HTTP 500", _now + 1000));
        await first.CommitAsync("acme", epoch, book.TakeChanges());
        ledger.Spent["acme"] = 950_000; // the usage log restores spend
        Assert.Equal(["acme"], first.TenantsWithPendingAlerts());
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path)); // it holds the webhook URL
        }

        var second = new EmbeddedTenantJournal(ledger, clock, settingsPath: path);
        Assert.Equal(["acme"], second.TenantsWithPendingAlerts());
        var (_, loaded) = await second.LoadAsync("acme");
        var expected = book.ToImage(_now);
        Assert.Equal(expected.State, loaded.State);
        Assert.Equal(expected.Crossings, loaded.Crossings);
        var reloaded = new TenantBook("acme", loaded, Options, _now);
        Assert.Equal(AdmissionOutcome.Paused, reloaded.Admit(Request(), "", _now).Outcome);
        Assert.Equal(2, reloaded.PendingDeliveries);
        Assert.Null(reloaded.TakeChanges().Crossings); // loading changes nothing
    }

    [Fact]
    public async Task A_threshold_pause_of_last_month_ends_when_the_embedded_store_restarts_in_a_new_month()
    {
        using var data = new TempDirectory();
        var path = Path.Combine(data.Path, "tenants.jsonl");
        var clock = new ManualClock(Start);
        var journal = new EmbeddedTenantJournal(new RecordingLedger(), clock, settingsPath: path);
        var (epoch, image) = await journal.LoadAsync("acme");
        var book = new TenantBook("acme", image, Options, _now);
        book.SetLimits(new TenantLimits(null, null, null, Budget), _now);
        Spend(book, 960_000);
        foreach (var crossing in book.Crossings.ToList())
        {
            book.RecordDelivery(crossing, new AlertDelivery(AlertDelivery.Delivered, 1, _now, null, null, _now));
        }

        await journal.CommitAsync("acme", epoch, book.TakeChanges());

        clock.Set(new DateTimeOffset(2026, 12, 2, 0, 0, 0, TimeSpan.Zero));
        var (_, loaded) = await new EmbeddedTenantJournal(new RecordingLedger(), clock, settingsPath: path).LoadAsync("acme");
        var december = new TenantBook("acme", loaded, Options, clock.GetUtcNow().ToUnixTimeMilliseconds());
        Assert.True(december.Admit(Request(), "", clock.GetUtcNow().ToUnixTimeMilliseconds()).IsAdmitted);
        Assert.Empty(december.Crossings);
    }

    [Fact]
    public async Task A_settings_log_written_before_thresholds_existed_loads_with_the_defaults()
    {
        using var data = new TempDirectory();
        var path = Path.Combine(data.Path, "tenants.jsonl");
        File.WriteAllText(path, """{"tenant":"old","incarnation":"","rpm":5,"tpm":null,"max_concurrent":null,"budget_nanos":1000000,"paused":true,"forgotten":false}""" + "\n");
        var (_, image) = await new EmbeddedTenantJournal(new RecordingLedger(), new ManualClock(Start), settingsPath: path).LoadAsync("old");
        var state = image.State!.Value;
        Assert.Equal(new TenantLimits(5, null, null, Budget), state.Limits);
        Assert.True(state.Paused);
        Assert.False(state.PausedByThreshold);
        Assert.Empty(image.Crossings);
        var book = new TenantBook("old", image, Options, _now);
        Assert.Equal((0.8, 0.95), (book.AlertThreshold, book.PauseThreshold));
    }

    private void Spend(TenantBook book, long nanos, bool unreserved = true) =>
        Assert.True(book.Settle(Settlement($"spend-{++_requests}", nanos, reserved: !unreserved), _now));

    private AdmissionRequest Request() => new($"probe-{++_requests}", 1, 1);

    private Settlement Settlement(string requestId, long cost, bool reserved) => new(new UsageRecord
    {
        TimestampMs = _now, Tenant = "acme", RequestId = requestId, Endpoint = "/v1/chat/completions", Model = "m", UpstreamModel = "m",
        Provider = "p", PromptTokens = 1, CostNanos = cost, Ending = Endings.Completed, Status = 200,
    }, Unreserved: !reserved);
}
