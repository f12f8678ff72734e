package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"gridmeter/internal/meterdata"
	"gridmeter/internal/storage"
	"gridmeter/internal/storage/pgstore"
	"gridmeter/internal/storage/storagetest"
)

// defaultDSN is the test server when GRIDMETER_TEST_PG_DSN is not set.
const defaultDSN = "postgres://root@127.0.0.1:5432/test?sslmode=disable"

// testDSN returns the test server's DSN. The server must be reachable: the test fails
// unless GRIDMETER_SKIP_PG=1 says to skip.
func testDSN(t testing.TB) string {
	t.Helper()
	if os.Getenv("GRIDMETER_SKIP_PG") == "1" {
		t.Skip("GRIDMETER_SKIP_PG=1: PostgreSQL tests skipped")
	}
	dsn := os.Getenv("GRIDMETER_TEST_PG_DSN")
	if dsn == "" {
		dsn = defaultDSN
	}
	serverOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			serverErr = err
			return
		}
		serverErr = conn.Close(ctx)
	})
	if serverErr != nil {
		t.Fatalf("PostgreSQL test server unreachable (%v).\n"+
			"The PostgreSQL tests need a server: start one, point GRIDMETER_TEST_PG_DSN at another "+
			"(default %s), or set GRIDMETER_SKIP_PG=1 to skip them.", serverErr, defaultDSN)
	}
	return dsn
}

var (
	serverOnce sync.Once
	serverErr  error
)

var notIdent = regexp.MustCompile(`[^a-z0-9]+`)

// uniqueSchema returns a fresh schema name that tells which test made it.
func uniqueSchema(t testing.TB) string {
	t.Helper()
	name := strings.Trim(notIdent.ReplaceAllString(strings.ToLower(t.Name()), "_"), "_")
	if len(name) > 36 {
		name = name[len(name)-36:]
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "gmtest_" + name + "_" + hex.EncodeToString(b[:])
}

// dropSchema removes a test schema and everything in it.
func dropSchema(t testing.TB, dsn, schema string) {
	t.Helper()
	// t.Context is already cancelled when cleanups run.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Errorf("drop schema %s: %v", schema, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
		t.Errorf("drop schema %s: %v", schema, err)
	}
}

// openFresh opens a store in a new schema, closed and dropped when the test ends.
func openFresh(t testing.TB, opts ...pgstore.Option) *pgstore.Store {
	t.Helper()
	dsn := testDSN(t)
	schema := uniqueSchema(t)
	t.Cleanup(func() { dropSchema(t, dsn, schema) })
	return openIn(t, dsn, schema, opts...)
}

func openIn(t testing.TB, dsn, schema string, opts ...pgstore.Option) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(t.Context(), dsn, append(opts, pgstore.WithSchema(schema))...)
	if err != nil {
		t.Fatalf("Open in schema %s: %v", schema, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// insertPaths are StoreBatch's two ways of inserting readings, chosen by the COPY threshold:
// every batch through unnest, every batch through COPY.
var insertPaths = []struct {
	name      string
	threshold int
}{
	{"unnest", math.MaxInt},
	{"copy", 1},
}

// TestContract runs the suite once per insert path.
func TestContract(t *testing.T) {
	testDSN(t) // one clear failure rather than one per subtest
	for _, tc := range insertPaths {
		t.Run(tc.name, func(t *testing.T) {
			storagetest.Run(t, func(t *testing.T) storage.Store {
				return openFresh(t, pgstore.WithCopyThreshold(tc.threshold))
			})
		})
	}
}

func TestNoHypertableWithoutTimescale(t *testing.T) {
	s := openFresh(t)
	var available bool
	dsn := testDSN(t)
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	if err := conn.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')`).Scan(&available); err != nil {
		t.Fatal(err)
	}
	if !available && s.Hypertable() {
		t.Error("Hypertable() = true on a server without timescaledb")
	}
	t.Logf("timescaledb available: %v, hypertable: %v", available, s.Hypertable())
}

// TestSchemaIsolationAndReopen checks that schemas isolate stores and that opening an
// existing schema again (also from several goroutines at once) migrates nothing twice.
func TestSchemaIsolationAndReopen(t *testing.T) {
	dsn := testDSN(t)
	schemaA, schemaB := uniqueSchema(t)+"a", uniqueSchema(t)+"b"
	t.Cleanup(func() { dropSchema(t, dsn, schemaA); dropSchema(t, dsn, schemaB) })

	var wg sync.WaitGroup
	stores := make([]*pgstore.Store, 4)
	errs := make([]error, len(stores))
	for i := range stores {
		wg.Go(func() {
			stores[i], errs[i] = pgstore.Open(t.Context(), dsn, pgstore.WithSchema(schemaA))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Open %d: %v", i, err)
		}
		t.Cleanup(func() { _ = stores[i].Close() })
	}
	a, b := stores[0], openIn(t, dsn, schemaB)

	m, err := meterdata.NewMeterID("T1", "bus1", "7")
	if err != nil {
		t.Fatal(err)
	}
	r := meterdata.Reading{Meter: m, Kind: meterdata.KindInstant, Time: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Values: map[string]int64{"p": 7}}
	if _, err := a.StoreBatch(t.Context(), storage.Batch{Terminal: "T1", FirstSeq: 1, LastSeq: 1, Readings: []meterdata.Reading{r}}); err != nil {
		t.Fatal(err)
	}
	if n, err := b.CountReadings(t.Context(), m); err != nil || n != 0 {
		t.Errorf("schema B sees %d readings (%v), want 0", n, err)
	}
	for i, s := range stores {
		if n, err := s.CountReadings(t.Context(), m); err != nil || n != 1 {
			t.Errorf("store %d on schema A sees %d readings (%v), want 1", i, n, err)
		}
	}

	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var versions []int32
	rows, err := conn.Query(t.Context(), `SELECT version FROM `+pgx.Identifier{schemaA, "schema_version"}.Sanitize()+` ORDER BY version`)
	if err == nil {
		versions, err = pgx.CollectRows(rows, pgx.RowTo[int32])
	}
	wantVersions(t, versions, err)

	// A newer schema version is refused.
	if _, err := conn.Exec(t.Context(), `INSERT INTO `+pgx.Identifier{schemaA, "schema_version"}.Sanitize()+` VALUES ($1, 'from the future', 0)`, pgstore.SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	if s, err := pgstore.Open(t.Context(), dsn, pgstore.WithSchema(schemaA)); err == nil {
		_ = s.Close()
		t.Error("Open of a schema with a newer version: want an error")
	} else if !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open error = %v, want it to say the version is newer", err)
	}
}

func TestOpenErrors(t *testing.T) {
	dsn := testDSN(t)
	tests := []struct {
		name, dsn string
		schema    string
		want      string
	}{
		{"unparsable DSN hides it", "postgres://root:s3cret@127.0.0.1:5432/test?sslmode=bogus", "", "cannot parse"},
		{"nobody listening", "postgres://root:s3cret@127.0.0.1:1/test?sslmode=disable&connect_timeout=2", "", "connect"},
		{"schema name too long", dsn, strings.Repeat("x", 64), "longer than 63"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var opts []pgstore.Option
			if tc.schema != "" {
				opts = append(opts, pgstore.WithSchema(tc.schema))
			}
			s, err := pgstore.Open(t.Context(), tc.dsn, opts...)
			if err == nil {
				_ = s.Close()
				t.Fatal("Open: want an error")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "pgstore: open") {
				t.Errorf("error %q, want it to start with %q and contain %q", err, "pgstore: open", tc.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestClock(t *testing.T) {
	at := time.Date(2030, 5, 6, 7, 8, 9, 10_500_000, time.FixedZone("x", 3600))
	storagetest.CheckClock(t, openFresh(t, pgstore.WithClock(func() time.Time { return at })), at)
}

func BenchmarkStoreBatch(b *testing.B) {
	testDSN(b)
	for _, tc := range insertPaths {
		b.Run(tc.name, func(b *testing.B) {
			storagetest.BenchStoreBatch(b, openFresh(b, pgstore.WithCopyThreshold(tc.threshold)))
		})
	}
}

func BenchmarkCommands(b *testing.B) {
	storagetest.BenchCommands(b, openFresh(b))
}

// wantVersions checks that schema_version lists every version once, 1 to SchemaVersion.
func wantVersions(t *testing.T, versions []int32, err error) {
	t.Helper()
	ok := err == nil && len(versions) == pgstore.SchemaVersion
	for i := 0; ok && i < len(versions); i++ {
		ok = int(versions[i]) == i+1
	}
	if !ok {
		t.Errorf("schema_version = %v, %v; want 1 to %d", versions, err, pgstore.SchemaVersion)
	}
}

// addedTables lists the tables each schema version added after version 1.
var addedTables = map[int][]string{
	2: {"events"},
	3: {"commands", "plans", "plan_status", "terminal_event_marks"},
}

// TestUpgrade opens schemas at older versions (made by removing what the later versions
// added) and checks that the missing versions are applied and work, the data kept.
func TestUpgrade(t *testing.T) {
	dsn := testDSN(t)
	for from := 1; from < pgstore.SchemaVersion; from++ {
		t.Run(fmt.Sprintf("from version %d", from), func(t *testing.T) {
			schema := uniqueSchema(t)
			t.Cleanup(func() { dropSchema(t, dsn, schema) })
			m, err := meterdata.NewMeterID("T1", "bus1", "1")
			if err != nil {
				t.Fatal(err)
			}
			r := meterdata.Reading{Meter: m, Kind: meterdata.KindDailyFrozen, Time: time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC), Values: map[string]int64{"e_imp": 42}}
			s, err := pgstore.Open(t.Context(), dsn, pgstore.WithSchema(schema))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.StoreBatch(t.Context(), storage.Batch{Terminal: "T1", FirstSeq: 1, LastSeq: 1, Readings: []meterdata.Reading{r}}); err != nil {
				t.Fatal(err)
			}
			online := storage.Event{At: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Kind: "terminal_online", Severity: storage.SeverityInfo, Terminal: "T1"}
			if err := s.AppendEvents(t.Context(), []storage.Event{online}); err != nil {
				t.Fatal(err)
			}
			_ = s.Close()

			conn, err := pgx.Connect(t.Context(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(t.Context())
			versionTable := pgx.Identifier{schema, "schema_version"}.Sanitize()
			for v := from + 1; v <= pgstore.SchemaVersion; v++ {
				for _, table := range addedTables[v] {
					if _, err := conn.Exec(t.Context(), `DROP TABLE `+pgx.Identifier{schema, table}.Sanitize()); err != nil {
						t.Fatal(err)
					}
				}
			}
			if _, err := conn.Exec(t.Context(), `DELETE FROM `+versionTable+` WHERE version > $1`, from); err != nil {
				t.Fatal(err)
			}

			s = openIn(t, dsn, schema)
			rows, err := conn.Query(t.Context(), `SELECT version FROM `+versionTable+` ORDER BY version`)
			var versions []int32
			if err == nil {
				versions, err = pgx.CollectRows(rows, pgx.RowTo[int32])
			}
			wantVersions(t, versions, err)
			if from >= 2 {
				if es, err := s.Events(t.Context(), storage.EventQuery{Kind: "terminal_online"}); err != nil || len(es) != 1 {
					t.Errorf("after the upgrade: Events = %+v, %v; want the one stored before", es, err)
				}
			}
			storagetest.CheckUpgraded(t, s, m)
		})
	}
}
