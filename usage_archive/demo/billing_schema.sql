-- A realistic billing schema for the demo and the tests: uuid keys, numeric money, timestamptz, jsonb,
-- enums, arrays, inet, interval, nullable columns. Also the four tables that are never archived.
CREATE TYPE credit_source AS ENUM ('purchase', 'grant', 'refund', 'promotion');
CREATE TYPE account_status AS ENUM ('active', 'suspended', 'closed');

CREATE TABLE accounts (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    external_id   text NOT NULL UNIQUE,
    email         text,
    display_name  text,
    plan          text NOT NULL,
    status        account_status NOT NULL DEFAULT 'active',
    balance       numeric(18, 6) NOT NULL DEFAULT 0,
    currency      char(3) NOT NULL DEFAULT 'USD',
    tags          text[],
    metadata      jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz,
    closed_at     timestamptz
);

CREATE TABLE credits (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id    uuid NOT NULL REFERENCES accounts(id),
    amount        numeric(18, 6) NOT NULL,
    source        credit_source NOT NULL,
    reference     text,
    metadata      jsonb,
    expires_at    timestamptz,
    created_at    timestamptz NOT NULL
);

CREATE TABLE charges (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id       uuid NOT NULL REFERENCES accounts(id),
    amount           numeric(18, 6) NOT NULL,
    unit_price       numeric(38, 18),
    quantity         integer,
    description      text,
    idempotency_key  text UNIQUE,
    metadata         jsonb,
    created_at       timestamptz NOT NULL
);

CREATE TABLE google_play_purchases (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id      uuid REFERENCES accounts(id),
    order_id        text NOT NULL,
    purchase_token  text NOT NULL,
    product_id      text NOT NULL,
    price_micros    bigint,
    currency        char(3),
    purchase_state  smallint,
    acknowledged    boolean NOT NULL DEFAULT false,
    raw_receipt     jsonb,
    purchased_at    timestamptz,
    created_at      timestamptz NOT NULL
);

CREATE TABLE llm_usage_logs (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id         uuid REFERENCES accounts(id),
    model              text NOT NULL,
    provider           text NOT NULL,
    prompt_tokens      integer,
    completion_tokens  integer,
    cost               numeric(20, 10),
    latency            interval,
    request_id         uuid,
    metadata           jsonb,
    created_at         timestamptz NOT NULL
);

CREATE TABLE admin_audit_logs (
    id           bigserial PRIMARY KEY,
    admin_email  text NOT NULL,
    action       text NOT NULL,
    target_type  text,
    target_id    text,
    before       jsonb,
    after        jsonb,
    ip_address   inet,
    created_at   timestamptz NOT NULL
);

CREATE TABLE credit_checks (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id        uuid REFERENCES accounts(id),
    allowed           boolean NOT NULL,
    reason            text,
    required_credits  numeric(18, 6),
    balance_at_check  numeric(18, 6),
    context           jsonb,
    latency_ms        integer,
    created_at        timestamptz NOT NULL
);

CREATE INDEX ON credits (created_at);
CREATE INDEX ON charges (created_at);
CREATE INDEX ON google_play_purchases (created_at);
CREATE INDEX ON llm_usage_logs (created_at);
CREATE INDEX ON admin_audit_logs (created_at);
CREATE INDEX ON credit_checks (created_at);

-- Never archived: secrets and operational data.
CREATE TABLE api_keys (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), account_id uuid, key_hash text NOT NULL,
                       created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE admin_users (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), email text NOT NULL,
                          created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE provider_configs (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), provider text, config jsonb);
CREATE TABLE revoked_tokens (jti text PRIMARY KEY, expires_at timestamptz NOT NULL);
