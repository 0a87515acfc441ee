-- The schema at version 4 (monitor before notices), as sqlite DDL: written once by
-- compiling that version's monitor/store/schema.py; tests build old databases from it.

CREATE TABLE articles (
	id INTEGER NOT NULL,
	url TEXT NOT NULL,
	url_hash VARCHAR(64) NOT NULL,
	title TEXT NOT NULL,
	author TEXT NOT NULL,
	published DATETIME,
	language VARCHAR(20),
	source TEXT NOT NULL,
	text TEXT NOT NULL,
	from_feed BOOLEAN NOT NULL,
	fingerprint BIGINT,
	story_id INTEGER,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (url_hash)
);
CREATE INDEX ix_articles_created_at ON articles (created_at);
CREATE INDEX ix_articles_story_id ON articles (story_id);

CREATE TABLE channel_state (
	name VARCHAR(200) NOT NULL,
	disabled BOOLEAN NOT NULL,
	reason TEXT,
	changed_at DATETIME,
	config_hash VARCHAR(64),
	PRIMARY KEY (name)
);

CREATE TABLE feed_health (
	name VARCHAR(500) NOT NULL,
	kind VARCHAR(16) NOT NULL,
	raised_at DATETIME NOT NULL,
	PRIMARY KEY (name)
);

CREATE TABLE feeds (
	id INTEGER NOT NULL,
	name VARCHAR(500) NOT NULL,
	url TEXT NOT NULL,
	interval FLOAT NOT NULL,
	etag TEXT,
	last_modified TEXT,
	content_hash VARCHAR(64),
	state VARCHAR(16) NOT NULL,
	last_error TEXT,
	error_count INTEGER NOT NULL,
	failing_since DATETIME,
	warning TEXT,
	last_polled_at DATETIME,
	next_poll_at DATETIME,
	items_seen INTEGER NOT NULL,
	first_poll_done BOOLEAN NOT NULL,
	claimed_by VARCHAR(200),
	lease_until DATETIME,
	active BOOLEAN NOT NULL,
	publisher_ask FLOAT,
	PRIMARY KEY (id),
	UNIQUE (name)
);
CREATE INDEX ix_feeds_due ON feeds (next_poll_at);

CREATE TABLE nodes (
	id VARCHAR(200) NOT NULL,
	started_at DATETIME NOT NULL,
	heartbeat_at DATETIME NOT NULL,
	PRIMARY KEY (id)
);

CREATE TABLE schema_version (
	version INTEGER NOT NULL,
	PRIMARY KEY (version)
);

CREATE TABLE alerts (
	id VARCHAR(36) NOT NULL,
	rule VARCHAR(500) NOT NULL,
	story_id INTEGER NOT NULL,
	article_id INTEGER NOT NULL,
	feed VARCHAR(500) NOT NULL,
	channel VARCHAR(200) NOT NULL,
	payload JSON NOT NULL,
	status VARCHAR(16) NOT NULL,
	digest_at DATETIME,
	attempts INTEGER NOT NULL,
	next_attempt_at DATETIME NOT NULL,
	last_error TEXT,
	created_at DATETIME NOT NULL,
	sent_at DATETIME,
	claimed_by VARCHAR(200),
	lease_until DATETIME,
	PRIMARY KEY (id),
	CONSTRAINT uq_alerts_rule_story_channel UNIQUE (rule, story_id, channel),
	FOREIGN KEY(article_id) REFERENCES articles (id)
);
CREATE INDEX ix_alerts_due ON alerts (status, next_attempt_at);

CREATE TABLE entries (
	id INTEGER NOT NULL,
	feed_id INTEGER NOT NULL,
	key_hash VARCHAR(64) NOT NULL,
	"key" TEXT NOT NULL,
	url TEXT,
	title TEXT,
	article_id INTEGER,
	seen_at DATETIME NOT NULL,
	version VARCHAR(64),
	published DATETIME,
	PRIMARY KEY (id),
	CONSTRAINT uq_entries_feed_key UNIQUE (feed_id, key_hash),
	FOREIGN KEY(feed_id) REFERENCES feeds (id),
	FOREIGN KEY(article_id) REFERENCES articles (id)
);
CREATE INDEX ix_entries_feed_seen ON entries (feed_id, seen_at);

CREATE TABLE matches (
	id INTEGER NOT NULL,
	rule VARCHAR(500) NOT NULL,
	article_id INTEGER NOT NULL,
	story_id INTEGER NOT NULL,
	terms JSON NOT NULL,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_matches_rule_article UNIQUE (rule, article_id),
	FOREIGN KEY(article_id) REFERENCES articles (id)
);
CREATE INDEX ix_matches_created_at ON matches (created_at);

CREATE TABLE deliveries (
	id INTEGER NOT NULL,
	alert_id VARCHAR(36) NOT NULL,
	attempt INTEGER NOT NULL,
	node VARCHAR(200) NOT NULL,
	started_at DATETIME NOT NULL,
	finished_at DATETIME,
	outcome VARCHAR(16) NOT NULL,
	detail TEXT,
	PRIMARY KEY (id),
	FOREIGN KEY(alert_id) REFERENCES alerts (id)
);
CREATE INDEX ix_deliveries_alert_id ON deliveries (alert_id);
