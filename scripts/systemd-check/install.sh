#!/bin/sh
# docs/deployment.md, "Step by step", as written, inside a booted Debian 12 container
# (scripts/systemd-check/run starts it). Departures from the text, and why:
# - step 1 sets the password with psql (createuser --pwprompt asks on a terminal there is none of);
# - step 2 installs from the source tree copied to /var/tmp/capcourse with the wheels built beside
#   it (the container has no network: it runs with a private one);
# - step 3 fills in the CHANGE-MEs and points the database, Redis and the LRS at this container;
# - step 6 first makes a self-signed certificate where the sample expects one, and the public name
#   resolve to this machine.
set -eux
SRC=/var/tmp/capcourse
WHEELS=/var/tmp/wheels

# 1. PostgreSQL: a role and a database.
sudo -u postgres psql -q -c "CREATE ROLE capcourse LOGIN PASSWORD 'deploy-check'"
sudo -u postgres createdb --owner capcourse capcourse

# 2. The code, in a venv of its own, run by a user of its own.
sudo useradd --system --home /srv/capcourse capcourse
sudo mkdir -p /srv/capcourse/packages /etc/capcourse
sudo python3 -m venv /srv/capcourse/venv
sudo /srv/capcourse/venv/bin/pip install --no-index --find-links "$WHEELS" "$SRC"
sudo /srv/capcourse/venv/bin/pip install --no-index --find-links "$WHEELS" redis
sudo chown -R capcourse: /srv/capcourse

# 3. Settings: copy, fill in every CHANGE-ME, keep it private.
sudo cp "$SRC/deploy/capcourse.env" /etc/capcourse/capcourse.env
sudo sed -i \
  -e 's|^CAPCOURSE_DATABASE_URL=.*|CAPCOURSE_DATABASE_URL=postgresql+psycopg://capcourse:deploy-check@127.0.0.1:5432/capcourse|' \
  -e 's|^CAPCOURSE_RATELIMIT_STORAGE_URI=.*|CAPCOURSE_RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379/0|' \
  -e 's|^CAPCOURSE_LRS_ENDPOINT=.*|CAPCOURSE_LRS_ENDPOINT=http://127.0.0.1:9000/xapi|' \
  -e 's|^CAPCOURSE_LRS_PASSWORD=.*|CAPCOURSE_LRS_PASSWORD=deploy-check|' \
  -e 's|^CAPCOURSE_WEB_WORKERS=.*|CAPCOURSE_WEB_WORKERS=2|' \
  /etc/capcourse/capcourse.env
# The secret key is written by a program, never on a command line (sudo logs those: check.py looks).
sudo python3 - <<'PYTHON'
import pathlib, secrets
env = pathlib.Path("/etc/capcourse/capcourse.env")
key = secrets.token_urlsafe(48)
env.write_text(env.read_text().replace("CAPCOURSE_SECRET_KEY=CHANGE-ME", f"CAPCOURSE_SECRET_KEY={key}"))
PYTHON
! grep -n CHANGE-ME /etc/capcourse/capcourse.env
sudo chmod 600 /etc/capcourse/capcourse.env && sudo chown capcourse: /etc/capcourse/capcourse.env

# 4. Units: migrations once, two web instances, two delivery workers, one gradebook worker.
sudo cp "$SRC"/deploy/systemd/*.service /etc/systemd/system/
sudo systemctl daemon-reload
sudo systemctl enable --now capcourse-migrate
sudo systemctl enable --now capcourse-web@8001 capcourse-web@8002
sudo systemctl enable --now capcourse-delivery@1 capcourse-delivery@2
sudo systemctl enable --now capcourse-lti-scores

# 5. The first administrator (prints a random password once). Any capcourse command runs this way:
#    as the service user, with the units' settings, none of them on a command line (sudo logs those).
sudo systemd-run --quiet --wait --pipe --uid=capcourse --gid=capcourse \
  -p EnvironmentFile=/etc/capcourse/capcourse.env -p WorkingDirectory=/srv/capcourse \
  /srv/capcourse/venv/bin/capcourse users ensure-admin

# 6. nginx in front.
echo "127.0.0.1 capcourse.example.ac.uk" | sudo tee -a /etc/hosts
sudo mkdir -p /etc/ssl/capcourse
sudo openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=capcourse.example.ac.uk \
  -keyout /etc/ssl/capcourse/privkey.pem -out /etc/ssl/capcourse/fullchain.pem 2>/dev/null
sudo cp "$SRC/deploy/nginx/capcourse.conf" /etc/nginx/sites-enabled/capcourse.conf
sudo nginx -t && sudo systemctl reload nginx

# 7. Check.
curl -fsS --retry 5 --retry-connrefused --cacert /etc/ssl/capcourse/fullchain.pem https://capcourse.example.ac.uk/readyz
