-- The schema at version 4 (monitor before notices), as postgresql DDL: written once by
-- compiling that version's monitor/store/schema.py; tests build old databases from it.

CREATE TABLE articles (
	id SERIAL NOT NULL,
	url TEXT NOT NULL,
	url_hash VARCHAR(64) NOT NULL,
	title TEXT NOT NULL,
	author TEXT NOT NULL,
	published TIMESTAMP WITH TIME ZONE,
	language VARCHAR(20),
	source TEXT NOT NULL,
	text TEXT NOT NULL,
	from_feed BOOLEAN NOT NULL,
	fingerprint BIGINT,
	story_id INTEGER,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (url_hash)
);
CREATE INDEX ix_articles_created_at ON articles (created_at);
CREATE INDEX ix_articles_story_id ON articles (story_id);

CREATE TABLE channel_state (
	name VARCHAR(200) NOT NULL,
	disabled BOOLEAN NOT NULL,
	reason TEXT,
	changed_at TIMESTAMP WITH TIME ZONE,
	config_hash VARCHAR(64),
	PRIMARY KEY (name)
);

CREATE TABLE feed_health (
	name VARCHAR(500) NOT NULL,
	kind VARCHAR(16) NOT NULL,
	raised_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (name)
);

CREATE TABLE feeds (
	id SERIAL NOT NULL,
	name VARCHAR(500) NOT NULL,
	url TEXT NOT NULL,
	interval FLOAT NOT NULL,
	etag TEXT,
	last_modified TEXT,
	content_hash VARCHAR(64),
	state VARCHAR(16) NOT NULL,
	last_error TEXT,
	error_count INTEGER NOT NULL,
	failing_since TIMESTAMP WITH TIME ZONE,
	warning TEXT,
	last_polled_at TIMESTAMP WITH TIME ZONE,
	next_poll_at TIMESTAMP WITH TIME ZONE,
	items_seen INTEGER NOT NULL,
	first_poll_done BOOLEAN NOT NULL,
	claimed_by VARCHAR(200),
	lease_until TIMESTAMP WITH TIME ZONE,
	active BOOLEAN NOT NULL,
	publisher_ask FLOAT,
	PRIMARY KEY (id),
	UNIQUE (name)
);
CREATE INDEX ix_feeds_due ON feeds (next_poll_at);

CREATE TABLE nodes (
	id VARCHAR(200) NOT NULL,
	started_at TIMESTAMP WITH TIME ZONE NOT NULL,
	heartbeat_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (id)
);

CREATE TABLE schema_version (
	version SERIAL NOT NULL,
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
	digest_at TIMESTAMP WITH TIME ZONE,
	attempts INTEGER NOT NULL,
	next_attempt_at TIMESTAMP WITH TIME ZONE NOT NULL,
	last_error TEXT,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	sent_at TIMESTAMP WITH TIME ZONE,
	claimed_by VARCHAR(200),
	lease_until TIMESTAMP WITH TIME ZONE,
	PRIMARY KEY (id),
	CONSTRAINT uq_alerts_rule_story_channel UNIQUE (rule, story_id, channel),
	FOREIGN KEY(article_id) REFERENCES articles (id)
);
CREATE INDEX ix_alerts_due ON alerts (status, next_attempt_at);

CREATE TABLE entries (
	id SERIAL NOT NULL,
	feed_id INTEGER NOT NULL,
	key_hash VARCHAR(64) NOT NULL,
	key TEXT NOT NULL,
	url TEXT,
	title TEXT,
	article_id INTEGER,
	seen_at TIMESTAMP WITH TIME ZONE NOT NULL,
	version VARCHAR(64),
	published TIMESTAMP WITH TIME ZONE,
	PRIMARY KEY (id),
	CONSTRAINT uq_entries_feed_key UNIQUE (feed_id, key_hash),
	FOREIGN KEY(feed_id) REFERENCES feeds (id),
	FOREIGN KEY(article_id) REFERENCES articles (id)
);
CREATE INDEX ix_entries_feed_seen ON entries (feed_id, seen_at);

CREATE TABLE matches (
	id SERIAL NOT NULL,
	rule VARCHAR(500) NOT NULL,
	article_id INTEGER NOT NULL,
	story_id INTEGER NOT NULL,
	terms JSON NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_matches_rule_article UNIQUE (rule, article_id),
	FOREIGN KEY(article_id) REFERENCES articles (id)
);
CREATE INDEX ix_matches_created_at ON matches (created_at);

CREATE TABLE deliveries (
	id SERIAL NOT NULL,
	alert_id VARCHAR(36) NOT NULL,
	attempt INTEGER NOT NULL,
	node VARCHAR(200) NOT NULL,
	started_at TIMESTAMP WITH TIME ZONE NOT NULL,
	finished_at TIMESTAMP WITH TIME ZONE,
	outcome VARCHAR(16) NOT NULL,
	detail TEXT,
	PRIMARY KEY (id),
	FOREIGN KEY(alert_id) REFERENCES alerts (id)
);
CREATE INDEX ix_deliveries_alert_id ON deliveries (alert_id);
