-- A small movie catalogue for pipelines/examples/movies.yaml, written by hand so that every
-- row can be reasoned about. Load it into a database with pgvector:
--
--   psql "$POSTGRES_DSN" -v ON_ERROR_STOP=1 -f pipelines/examples/movies.sql
--
-- Re-running it drops and recreates the five tables (and the data in them).
--
-- What the data exercises on purpose:
--   * names and titles with quotes and unicode: Richard O'Brien, "Weird Al" Yankovic,
--     Zoë Saldaña, Björk, 柊瑠美, a Japanese title, a role with double quotes;
--   * unknowns: a person with a NULL born, a movie with a NULL released;
--   * a NULL plot (Star Trek) and an empty plot (Guardians of the Galaxy): the pipeline's
--     embed step rejects both and lists them;
--   * one actor with several roles in one movie (Lindsay Lohan plays both twins in The
--     Parent Trap, Peter Sellers three parts in Dr. Strangelove): one ACTED_IN per role;
--   * a person with no role at all (Stanley Kubrick directed, he did not act): the graph
--     holds the people who act, read from the roles, not every row of people.

CREATE EXTENSION IF NOT EXISTS vector;

DROP TABLE IF EXISTS roles, movie_genres, genres, people, movies CASCADE;
DROP FUNCTION IF EXISTS movies_touch_updated_at();

-- The plot vector is a column of movies rather than a side table: the embed step writes
-- vectors by UPDATE of existing rows of `into.table` (it never inserts), so a side table
-- would need a row per movie made beforehand, and a new movie would silently go without
-- a vector. The model that made the vector is recorded beside it (the step's `set`).
CREATE TABLE movies (
  movie_id       int PRIMARY KEY,
  title          text NOT NULL,
  released       int,
  plot           text,
  updated_at     timestamptz NOT NULL DEFAULT now(),
  plot_embedding vector(384),
  plot_model     text
);

-- updated_at is the embed source's incremental cursor, so it must move when the plot (or
-- the title, or the year) is edited, and must NOT move when the pipeline writes the vector:
-- otherwise every run would bump the rows it just embedded and read them again next time.
-- `UPDATE OF` lists the catalogue columns only; the vector columns are left out.
CREATE FUNCTION movies_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

CREATE TRIGGER movies_touch_updated_at
  BEFORE UPDATE OF title, released, plot ON movies
  FOR EACH ROW
  WHEN (OLD.title IS DISTINCT FROM NEW.title OR OLD.released IS DISTINCT FROM NEW.released OR OLD.plot IS DISTINCT FROM NEW.plot)
  EXECUTE FUNCTION movies_touch_updated_at();

CREATE TABLE people (
  person_id int PRIMARY KEY,
  name      text NOT NULL,
  born      int
);

CREATE TABLE genres (
  genre_id int PRIMARY KEY,
  name     text NOT NULL UNIQUE
);

CREATE TABLE movie_genres (
  movie_id int NOT NULL REFERENCES movies,
  genre_id int NOT NULL REFERENCES genres,
  PRIMARY KEY (movie_id, genre_id)
);

-- No unique key on (person_id, movie_id): an actor may play several roles in one movie.
-- A (person, movie, role) triple is unique, and that is what the pipeline keys roles by.
CREATE TABLE roles (
  person_id int NOT NULL REFERENCES people,
  movie_id  int NOT NULL REFERENCES movies,
  role      text NOT NULL,
  UNIQUE (person_id, movie_id, role)
);

-- Distinct updated_at values a day apart: an incremental run reads only the rows at or past
-- the last run's high-water mark, which here is one movie (John Wick), not the whole table.
INSERT INTO movies (movie_id, title, released, plot, updated_at) VALUES
  (1,  'The Matrix', 1999,
       'A hacker learns that the world he lives in is a simulation run by machines, and joins the rebels who fight them.',
       timestamptz '2024-01-01 12:00:00+00'),
  (2,  'Avatar', 2009,
       'A paraplegic marine sent to the moon Pandora in a borrowed alien body comes to side with the Na''vi he was sent to displace.',
       timestamptz '2024-01-02 12:00:00+00'),
  (3,  'Guardians of the Galaxy', 2014, '',
       timestamptz '2024-01-03 12:00:00+00'),
  (4,  'Star Trek', 2009, NULL,
       timestamptz '2024-01-04 12:00:00+00'),
  (5,  'Dancer in the Dark', 2000,
       'A Czech immigrant factory worker who is going blind escapes into musical daydreams while saving for her son''s operation.',
       timestamptz '2024-01-05 12:00:00+00'),
  (6,  'UHF', 1989,
       'A daydreaming slacker takes over a failing UHF television station and saves it with "Wheel of Fish" and a janitor''s kids'' show.',
       timestamptz '2024-01-06 12:00:00+00'),
  (7,  '千と千尋の神隠し', 2001,
       'Moving house, ten-year-old Chihiro wanders into a world of spirits, where a witch renames her Sen and her parents are turned into pigs.',
       timestamptz '2024-01-07 12:00:00+00'),
  (8,  'The Parent Trap', 1998,
       'Identical twins separated at birth meet at summer camp and swap places to bring their divorced parents back together.',
       timestamptz '2024-01-08 12:00:00+00'),
  (9,  'Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb', 1964,
       'A deranged general orders a nuclear strike on the Soviet Union, and the President''s war room tries to call it back.',
       timestamptz '2024-01-09 12:00:00+00'),
  (10, 'The Rocky Horror Picture Show', 1975,
       'A newly engaged couple with a flat tyre seek help at the castle of Dr. Frank-N-Furter, a scientist from Transsexual, Transylvania.',
       timestamptz '2024-01-10 12:00:00+00'),
  (11, 'Don Quixote', NULL,
       'Orson Welles''s unfinished film: the knight and Sancho Panza ride through a modern Spain of motor scooters and television.',
       timestamptz '2024-01-11 12:00:00+00'),
  (12, 'John Wick', 2014,
       'A retired hitman comes back for the men who stole his car and killed the puppy his late wife left him.',
       timestamptz '2024-01-12 12:00:00+00');

INSERT INTO people (person_id, name, born) VALUES
  (1,  'Keanu Reeves', 1964),
  (2,  'Laurence Fishburne', 1961),
  (3,  'Carrie-Anne Moss', 1967),
  (4,  'Zoë Saldaña', 1978),
  (5,  'Sam Worthington', 1976),
  (6,  'Chris Pratt', 1979),
  (7,  'Björk', 1965),
  (8,  'Catherine Deneuve', 1943),
  (9,  '"Weird Al" Yankovic', 1959),
  (10, 'Michael Richards', 1949),
  (11, '柊瑠美', 1987),
  (12, '入野自由', 1988),
  (13, 'Lindsay Lohan', 1986),
  (14, 'Dennis Quaid', 1954),
  (15, 'Peter Sellers', 1925),
  (16, 'George C. Scott', 1927),
  (17, 'Richard O''Brien', 1942),
  (18, 'Tim Curry', 1946),
  (19, 'Francisco Reiguera', NULL),   -- born unknown to this catalogue
  (20, 'Stanley Kubrick', 1928);      -- directed Dr. Strangelove; no role

INSERT INTO genres (genre_id, name) VALUES
  (1, 'Drama'),
  (2, 'Science Fiction'),
  (3, 'Comedy'),
  (4, 'Animation'),
  (5, 'Musical');

INSERT INTO movie_genres (movie_id, genre_id) VALUES
  (1, 2), (2, 2), (3, 2), (3, 3), (4, 2),
  (5, 1), (5, 5), (6, 3), (7, 4), (8, 3),
  (9, 3), (10, 3), (10, 5), (11, 1), (12, 1);

INSERT INTO roles (person_id, movie_id, role) VALUES
  (1,  1,  'Neo'),
  (2,  1,  'Morpheus'),
  (3,  1,  'Trinity'),
  (4,  2,  'Neytiri'),
  (5,  2,  'Jake Sully'),
  (4,  3,  'Gamora'),
  (6,  3,  'Peter Quill'),
  (4,  4,  'Nyota Uhura'),
  (7,  5,  'Selma Ježková'),
  (8,  5,  'Kathy'),
  (9,  6,  'George Newman'),
  (10, 6,  'Stanley Spadowski'),
  (11, 7,  '荻野千尋'),
  (12, 7,  'ハク'),
  (13, 8,  'Hallie Parker'),
  (13, 8,  'Annie James'),
  (14, 8,  'Nick Parker'),
  (15, 9,  'Group Capt. Lionel Mandrake'),
  (15, 9,  'President Merkin Muffley'),
  (15, 9,  'Dr. Strangelove'),
  (16, 9,  'Gen. "Buck" Turgidson'),
  (17, 10, 'Riff Raff'),
  (18, 10, 'Dr. Frank-N-Furter'),
  (19, 11, 'Don Quixote'),
  (1,  12, 'John Wick');
