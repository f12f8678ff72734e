package journal

import (
	"context"
	"testing"
)

func TestZZPlan(t *testing.T) {
	j, _ := openTemp(t, Options{})
	for _, q := range []string{
		"SELECT seq, meter, kind, t, quality, vals, appended FROM entry WHERE acked = 0 AND seq > 5 ORDER BY seq LIMIT 10",
		"DELETE FROM entry WHERE acked = 1 AND appended < 5",
		"SELECT count(*) FROM entry",
		"SELECT count(*) FROM entry WHERE acked = 0",
		"SELECT 1 FROM entry WHERE meter = 'a' AND kind = 'b' AND t = 5",
		"UPDATE entry SET acked = 1 WHERE seq BETWEEN 1 AND 4 AND acked = 0",
		"DELETE FROM entry WHERE seq IN (SELECT seq FROM entry WHERE acked = 1 ORDER BY seq LIMIT 5)",
		"PRAGMA journal_mode", "PRAGMA synchronous", "PRAGMA journal_size_limit", "PRAGMA busy_timeout",
	} {
		rows, err := j.db.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q)
		if q[0] == 'P' {
			rows, err = j.db.QueryContext(context.Background(), q)
		}
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		t.Log(q)
		for rows.Next() {
			v := make([]any, len(cols))
			p := make([]any, len(cols))
			for i := range v {
				p[i] = &v[i]
			}
			rows.Scan(p...)
			t.Logf("   %v", v)
		}
		rows.Close()
	}
}
