-- Synthetic rows for :months months ending with the month that starts at :last_month (UTC), :scale rows per
-- month of the busiest table. Deterministic (setseed) so demo output is stable.
SELECT setseed(0.42);

INSERT INTO accounts (external_id, email, display_name, plan, status, balance, tags, metadata, created_at, updated_at)
SELECT 'acct_' || g,
       CASE WHEN g % 7 = 0 THEN NULL ELSE 'user' || g || '@example.com' END,
       CASE WHEN g % 11 = 0 THEN NULL ELSE 'Customer ' || g END,
       (ARRAY['free', 'pro', 'team', 'enterprise'])[1 + g % 4],
       (CASE WHEN g % 50 = 0 THEN 'suspended' ELSE 'active' END)::account_status,
       round((random() * 5000)::numeric, 6),
       CASE WHEN g % 3 = 0 THEN ARRAY['beta', 'eu'] ELSE NULL END,
       jsonb_build_object('signup', 'web', 'région', 'eu-west', 'n', g),
       :'last_month'::timestamptz - make_interval(days => (g % 400)),
       CASE WHEN g % 2 = 0 THEN :'last_month'::timestamptz - make_interval(days => (g % 30)) END
FROM generate_series(1, 200) AS g;

CREATE TEMP TABLE demo_accounts AS SELECT id, row_number() OVER (ORDER BY external_id) AS n FROM accounts;
CREATE TEMP TABLE demo_months AS
SELECT m AS month_start, (m + interval '1 month') AS month_end
FROM generate_series(:'last_month'::timestamptz - make_interval(months => :months - 1),
                     :'last_month'::timestamptz, interval '1 month') AS m;

INSERT INTO credits (account_id, amount, source, reference, metadata, expires_at, created_at)
SELECT (SELECT id FROM demo_accounts WHERE n = 1 + (g * 7) % 200),
       round((random() * 100)::numeric, 6),
       (ARRAY['purchase', 'grant', 'refund', 'promotion'])[1 + g % 4]::credit_source,
       CASE WHEN g % 5 = 0 THEN NULL ELSE 'ref-' || g END,
       CASE WHEN g % 4 = 0 THEN NULL ELSE jsonb_build_object('campaign', 'c' || (g % 9)) END,
       CASE WHEN g % 2 = 0 THEN m.month_end + interval '365 days' END,
       m.month_start + (m.month_end - m.month_start) * random()
FROM demo_months m, generate_series(1, greatest(:scale / 100, 5)) AS g;

INSERT INTO charges (account_id, amount, unit_price, quantity, description, idempotency_key, metadata, created_at)
SELECT (SELECT id FROM demo_accounts WHERE n = 1 + (g * 13) % 200),
       round((random() * 3)::numeric, 6),
       CASE WHEN g % 6 = 0 THEN NULL ELSE round((random() / 1000)::numeric, 18) END,
       1 + g % 20,
       'usage ' || (g % 17),
       md5(m.month_start::text || g),
       jsonb_build_object('model', (ARRAY['gpt-4o', 'claude', 'llama'])[1 + g % 3]),
       m.month_start + (m.month_end - m.month_start) * random()
FROM demo_months m, generate_series(1, greatest(:scale / 5, 5)) AS g;

INSERT INTO google_play_purchases (account_id, order_id, purchase_token, product_id, price_micros, currency,
                                   purchase_state, acknowledged, raw_receipt, purchased_at, created_at)
SELECT (SELECT id FROM demo_accounts WHERE n = 1 + (g * 3) % 200),
       'GPA.' || md5(g::text || m.month_start::text),
       md5('token' || g || m.month_start::text),
       (ARRAY['credits_100', 'credits_500', 'credits_2000'])[1 + g % 3],
       (ARRAY[990000, 4490000, 16990000])[1 + g % 3],
       'EUR', (g % 3)::smallint, g % 4 <> 0,
       jsonb_build_object('orderId', 'GPA.' || g, 'autoRenewing', false),
       CASE WHEN g % 9 = 0 THEN NULL ELSE m.month_start + interval '1 hour' * g END,
       m.month_start + (m.month_end - m.month_start) * random()
FROM demo_months m, generate_series(1, greatest(:scale / 250, 3)) AS g;

INSERT INTO llm_usage_logs (account_id, model, provider, prompt_tokens, completion_tokens, cost, latency, request_id,
                            metadata, created_at)
SELECT (SELECT id FROM demo_accounts WHERE n = 1 + (g * 11) % 200),
       (ARRAY['gpt-4o', 'claude-sonnet', 'llama-70b'])[1 + g % 3],
       (ARRAY['openai', 'anthropic', 'together'])[1 + g % 3],
       (random() * 4000)::int, CASE WHEN g % 10 = 0 THEN NULL ELSE (random() * 1000)::int END,
       round((random() / 10)::numeric, 10),
       make_interval(secs => round((random() * 20)::numeric, 6)::double precision),
       gen_random_uuid(),
       CASE WHEN g % 3 = 0 THEN NULL ELSE jsonb_build_object('stream', g % 2 = 0) END,
       m.month_start + (m.month_end - m.month_start) * random()
FROM demo_months m, generate_series(1, greatest(:scale / 5, 5)) AS g;

INSERT INTO admin_audit_logs (admin_email, action, target_type, target_id, before, after, ip_address, created_at)
SELECT 'admin' || (g % 3) || '@example.com',
       (ARRAY['grant_credits', 'suspend_account', 'update_plan'])[1 + g % 3],
       'account', 'acct_' || g,
       CASE WHEN g % 2 = 0 THEN jsonb_build_object('plan', 'free') END,
       jsonb_build_object('plan', 'pro'),
       ('10.0.' || (g % 255) || '.' || (g % 200))::inet,
       m.month_start + (m.month_end - m.month_start) * random()
FROM demo_months m, generate_series(1, greatest(:scale / 500, 2)) AS g;

INSERT INTO credit_checks (account_id, allowed, reason, required_credits, balance_at_check, context, latency_ms,
                           created_at)
SELECT (SELECT id FROM demo_accounts WHERE n = 1 + (g * 17) % 200),
       g % 9 <> 0,
       CASE WHEN g % 9 = 0 THEN 'insufficient_balance' END,
       round((random() * 2)::numeric, 6), round((random() * 500)::numeric, 6),
       jsonb_build_object('endpoint', '/v1/chat', 'tier', g % 3),
       CASE WHEN g % 20 = 0 THEN NULL ELSE (random() * 50)::int END,
       m.month_start + (m.month_end - m.month_start) * random()
FROM demo_months m, generate_series(1, :scale) AS g;

INSERT INTO api_keys (account_id, key_hash) SELECT id, md5(id::text) FROM demo_accounts LIMIT 20;
