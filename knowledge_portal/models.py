"""Portal data model: member states, services, achievements, awards, practices, admin.

Bilingual text is stored as ``*_ar`` / ``*_en`` column pairs; :meth:`Bilingual.t`
picks the one for the current language (falling back to the other). Records
that go through moderation carry a ``status`` (draft, submitted, published,
returned).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    select,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    Session,
    mapped_column,
    relationship,
    validates,
    with_loader_criteria,
)

_TAG_SEPARATORS = re.compile(r"[\s_]+")
_TAG_DASHES = re.compile(r"-{2,}")


def tag_key(tag: str | None) -> str:
    """The normalised form tag labels are stored and looked up by: lower case, spaces and underscores as single dashes.

    Lives here, below :mod:`knowledge_portal.tags` (which re-exports it), because
    :class:`TagLabel` normalises its slug with it and ``tags`` reads ``TagLabel``:
    models never import tags.
    """
    text = _TAG_SEPARATORS.sub("-", (tag or "").strip().lower())
    return _TAG_DASHES.sub("-", text).strip("-")


def utcnow() -> datetime:
    """Timezone-aware now (stored naive UTC by SQLite, aware by PostgreSQL)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Bilingual:
    """Mixin: ``t('title', lang)`` returns the field in ``lang`` or the other language."""

    def t(self, field: str, lang: str) -> str:
        other = "en" if lang == "ar" else "ar"
        return getattr(self, f"{field}_{lang}", None) or getattr(self, f"{field}_{other}", None) or ""


class Sourced:
    """Mixin: a bilingual source line (``source_ar``, ``source_en``).

    ``source`` stays as a read/write alias of the English line for callers that
    predate the split (CSV export, admin forms); pages use ``t('source', lang)``.
    """

    if TYPE_CHECKING:  # the mapped columns are declared on each model (their lengths differ)
        source_ar: str
        source_en: str

    @property
    def source(self) -> str:
        return self.source_en or self.source_ar or ""

    @source.setter
    def source(self, value: str) -> None:
        self.source_en = value or ""


STATUSES = ("draft", "submitted", "published", "returned")


class Sector(Base, Bilingual):
    """A sector of government (health, customs...): a record the secretariat edits, with both labels.

    Services and practices refer to a sector by ``code`` (stable, English, used in
    URLs and the API); pages show ``label_ar`` / ``label_en``.
    """

    __tablename__ = "sectors"
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    label_ar: Mapped[str] = mapped_column(String(200))
    label_en: Mapped[str] = mapped_column(String(200))
    sort_order: Mapped[int] = mapped_column(Integer, default=0)


class SoftDeletable:
    """Mixin: a record deleted in the admin keeps its row with ``deleted_at`` (and who) until restored.

    Every ORM query leaves such rows out (public pages, lists, API, feeds,
    search rebuilds) unless it is run with ``execution_options(include_deleted=True)``,
    which only the admin's history and restore pages do.
    """

    deleted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, default=None)
    deleted_by: Mapped[str | None] = mapped_column(String(120), nullable=True, default=None)


@event.listens_for(Session, "do_orm_execute")
def _hide_deleted(state: ORMExecuteState) -> None:
    if not state.is_select or state.is_column_load or state.execution_options.get("include_deleted", False):
        return
    if state.is_relationship_load:
        # collections (a practice's related practices) leave deleted records out; a many-to-one
        # reference (an attachment's practice) still finds its record, so callers never get None
        path = state.loader_strategy_path
        prop = getattr(path, "prop", None) if path is not None else None
        if prop is not None and not prop.uselist:
            return
    state.statement = state.statement.options(
        with_loader_criteria(SoftDeletable, lambda cls: cls.deleted_at.is_(None), include_aliases=True),
        # a deleted practice's attachments go with it (their download links answer 404)
        with_loader_criteria(
            Attachment,
            lambda cls: cls.practice_id.not_in(
                select(_PRACTICES.c.id).where(_PRACTICES.c.deleted_at.is_not(None)).scalar_subquery()
            ),
        ),
    )


class State(Base, Bilingual):
    __tablename__ = "states"
    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name_ar: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    programme_ar: Mapped[str] = mapped_column(Text, default="")
    programme_en: Mapped[str] = mapped_column(Text, default="")
    agency_ar: Mapped[str] = mapped_column(String(300), default="")
    agency_en: Mapped[str] = mapped_column(String(300), default="")
    agency_url: Mapped[str] = mapped_column(String(500), default="")
    readiness_ar: Mapped[str] = mapped_column(Text, default="")
    readiness_en: Mapped[str] = mapped_column(Text, default="")
    network_status: Mapped[str] = mapped_column(String(20), default="trial")
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    ranks: Mapped[list[EgdiRank]] = relationship(
        back_populates="state", order_by="EgdiRank.year", cascade="all, delete-orphan"
    )


class EgdiRank(Base, Bilingual, Sourced):
    """One UN E-Government Development Index rank of a state in a survey year."""

    __tablename__ = "egdi_ranks"
    __table_args__ = (UniqueConstraint("state_code", "year"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    state_code: Mapped[str] = mapped_column(ForeignKey("states.code", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(Integer)
    rank: Mapped[int] = mapped_column(Integer)
    source_ar: Mapped[str] = mapped_column(String(300), default="")
    source_en: Mapped[str] = mapped_column(String(300), default="")
    state: Mapped[State] = relationship(back_populates="ranks")


class Service(Base, Bilingual, Sourced, SoftDeletable):
    """One e-service of a member state and its readiness."""

    __tablename__ = "services"
    id: Mapped[int] = mapped_column(primary_key=True)
    state_code: Mapped[str] = mapped_column(ForeignKey("states.code"), index=True)
    agency_ar: Mapped[str] = mapped_column(String(300), default="")
    agency_en: Mapped[str] = mapped_column(String(300), default="")
    sector: Mapped[str] = mapped_column(String(40), index=True)
    name_ar: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str] = mapped_column(String(300))
    maturity: Mapped[str] = mapped_column(String(20))
    channels: Mapped[str] = mapped_column(String(100), default="web")  # comma-separated
    e_payment: Mapped[bool] = mapped_column(Boolean, default=False)
    end_to_end: Mapped[bool] = mapped_column(Boolean, default=False)
    ministry_priority: Mapped[bool] = mapped_column(Boolean, default=False)
    launch_phase: Mapped[int] = mapped_column(Integer, default=1)
    cross_border: Mapped[bool] = mapped_column(Boolean, default=False)
    evidence_url: Mapped[str] = mapped_column(String(500), default="")
    # the service's address on the GCC network (CC/AGENCY/code), when its node publishes it
    network_service: Mapped[str] = mapped_column(String(110), default="")
    as_of: Mapped[date | None] = mapped_column(Date, nullable=True)
    source_ar: Mapped[str] = mapped_column(String(500), default="")
    source_en: Mapped[str] = mapped_column(String(500), default="")
    is_demo: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, default=utcnow, onupdate=utcnow)
    state: Mapped[State] = relationship()

    @property
    def channel_list(self) -> list[str]:
        return [c for c in (self.channels or "").split(",") if c]


class Achievement(Base, Bilingual, Sourced, SoftDeletable):
    __tablename__ = "achievements"
    id: Mapped[int] = mapped_column(primary_key=True)
    state_code: Mapped[str] = mapped_column(ForeignKey("states.code"), index=True)
    date: Mapped[date] = mapped_column(Date)
    category: Mapped[str] = mapped_column(String(40))
    title_ar: Mapped[str] = mapped_column(String(500))
    title_en: Mapped[str] = mapped_column(String(500))
    body_ar: Mapped[str] = mapped_column(Text, default="")
    body_en: Mapped[str] = mapped_column(Text, default="")
    source_ar: Mapped[str] = mapped_column(String(500), default="")
    source_en: Mapped[str] = mapped_column(String(500), default="")
    is_demo: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    review_comment: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # first publication; kept
    state: Mapped[State] = relationship()

    @property
    def year(self) -> int:
        return self.date.year


class AwardEdition(Base, Bilingual, Sourced, SoftDeletable):
    """One year of the GCC e-government award, hosted by a member state."""

    __tablename__ = "award_editions"
    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer, unique=True)
    host_code: Mapped[str] = mapped_column(ForeignKey("states.code"))
    notes_ar: Mapped[str] = mapped_column(Text, default="")
    notes_en: Mapped[str] = mapped_column(Text, default="")
    source_ar: Mapped[str] = mapped_column(String(500), default="")
    source_en: Mapped[str] = mapped_column(String(500), default="")
    is_demo: Mapped[bool] = mapped_column(Boolean, default=True)
    host: Mapped[State] = relationship()
    winners: Mapped[list[AwardWinner]] = relationship(
        back_populates="edition", cascade="all, delete-orphan", order_by="AwardWinner.id"
    )


class AwardWinner(Base, Bilingual):
    __tablename__ = "award_winners"
    id: Mapped[int] = mapped_column(primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("award_editions.id", ondelete="CASCADE"))
    category_ar: Mapped[str] = mapped_column(String(300))
    category_en: Mapped[str] = mapped_column(String(300))
    winner_ar: Mapped[str] = mapped_column(String(300))
    winner_en: Mapped[str] = mapped_column(String(300))
    state_code: Mapped[str | None] = mapped_column(ForeignKey("states.code"), nullable=True)
    edition: Mapped[AwardEdition] = relationship(back_populates="winners")


practice_relations = Table(
    "practice_relations",
    Base.metadata,
    Column("practice_id", ForeignKey("practices.id", ondelete="CASCADE"), primary_key=True),
    Column("related_id", ForeignKey("practices.id", ondelete="CASCADE"), primary_key=True),
)


class Practice(Base, Bilingual, Sourced, SoftDeletable):
    """A best practice (successful experience) in the knowledge base."""

    __tablename__ = "practices"
    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(80), unique=True, index=True)
    state_code: Mapped[str | None] = mapped_column(ForeignKey("states.code"), nullable=True, index=True)
    sector: Mapped[str] = mapped_column(String(40), index=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    title_ar: Mapped[str] = mapped_column(String(500), default="")
    title_en: Mapped[str] = mapped_column(String(500), default="")
    summary_ar: Mapped[str] = mapped_column(Text, default="")
    summary_en: Mapped[str] = mapped_column(Text, default="")
    body_ar: Mapped[str] = mapped_column(Text, default="")  # sanitised HTML
    body_en: Mapped[str] = mapped_column(Text, default="")
    outcomes_ar: Mapped[str] = mapped_column(Text, default="")
    outcomes_en: Mapped[str] = mapped_column(Text, default="")
    source_ar: Mapped[str] = mapped_column(String(500), default="")
    source_en: Mapped[str] = mapped_column(String(500), default="")
    is_demo: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    review_comment: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    state: Mapped[State | None] = relationship()
    attachments: Mapped[list[Attachment]] = relationship(back_populates="practice", cascade="all, delete-orphan")
    related: Mapped[list[Practice]] = relationship(
        secondary=practice_relations,
        primaryjoin=lambda: Practice.id == practice_relations.c.practice_id,
        secondaryjoin=lambda: Practice.id == practice_relations.c.related_id,
    )


class TagLabel(Base, Bilingual, SoftDeletable):
    """The Arabic and English label of a practice tag (tags themselves stay English slugs in URLs and the API).

    ``slug`` is kept in the normalised form of :func:`tag_key`, so a label found for
    ``digital-identity`` also serves a practice tagged ``Digital identity``.
    """

    __tablename__ = "tag_labels"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    label_ar: Mapped[str] = mapped_column(String(120), default="")
    label_en: Mapped[str] = mapped_column(String(120), default="")

    @validates("slug")
    def _normalise_slug(self, _key: str, value: str) -> str:
        return tag_key(value)


class Attachment(Base):
    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(100), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    practice: Mapped[Practice] = relationship(back_populates="attachments")


_PRACTICES = Practice.__table__  # plain table: the soft-delete criteria above must not rewrite this subquery


class Standard(Base, Bilingual, SoftDeletable):
    """A standard the committee set (official portals, interoperability, security...)."""

    __tablename__ = "standards"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    category: Mapped[str] = mapped_column(String(40))
    year: Mapped[int] = mapped_column(Integer)
    title_ar: Mapped[str] = mapped_column(String(500))
    title_en: Mapped[str] = mapped_column(String(500))
    body_ar: Mapped[str] = mapped_column(Text, default="")
    body_en: Mapped[str] = mapped_column(Text, default="")
    is_demo: Mapped[bool] = mapped_column(Boolean, default=True)


ROLES = ("admin", "editor", "reviewer")


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(120), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(300), nullable=True)
    role: Mapped[str] = mapped_column(String(20))
    state_code: Mapped[str | None] = mapped_column(ForeignKey("states.code"), nullable=True)
    email: Mapped[str | None] = mapped_column(String(300), nullable=True)
    oidc_subject: Mapped[str | None] = mapped_column(String(300), nullable=True, unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # bumped on logout and password change: session cookies carrying an older value are refused
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Revision(Base):
    """A snapshot of a record after each admin change (revision history)."""

    __tablename__ = "revisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(40), index=True)
    entity_id: Mapped[str] = mapped_column(String(80), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    username: Mapped[str] = mapped_column(String(120))
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AuditEntry(Base):
    """One admin action: who, what, on which record, from where."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    username: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(40), default="")
    entity_id: Mapped[str] = mapped_column(String(80), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip: Mapped[str] = mapped_column(String(64), default="")


class LoginAttempt(Base):
    """Failed logins, per key (username and address), for rate limiting across workers."""

    __tablename__ = "login_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class DirectoryVersion(Base):
    """One accepted version of the member directory, exactly as signed."""

    __tablename__ = "directory_versions"
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    issued_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    uploaded_at: Mapped[datetime] = mapped_column(DateTime)
    uploaded_by: Mapped[str] = mapped_column(String(120), default="")


class NodeSample(Base):
    """One poll of one member node by the network collector: what its signed status attested, or why not."""

    __tablename__ = "node_samples"
    id: Mapped[int] = mapped_column(primary_key=True)
    cc: Mapped[str] = mapped_column(String(2), index=True)
    polled_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    online: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(String(40), nullable=True)
    status_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # the status's own signed time
    directory_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    queue_depth: Mapped[int | None] = mapped_column(Integer, nullable=True)
    services: Mapped[list[str]] = mapped_column(JSON, default=list)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # uptime, traffic, catalogue (newer nodes)


class ContentGeneration(Base):
    """One row (``id`` 1) whose ``value`` grows with every committed content write.

    Response caches (:mod:`knowledge_portal.response_cache`) remember the value
    a page was rendered at and serve it only while the value is unchanged, so a
    publish through any portal process on the same database invalidates the
    cached pages of every process at their next request. The bump is made in
    the writing transaction itself (see :func:`_bump_generation_on_commit`):
    it commits or rolls back with the content.
    """

    __tablename__ = "content_generation"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class PortalSession(Session):
    """The portal's sessions (``db.PortalDatabase``'s sessionmaker): the content-generation hooks below listen on
    this class only, so other SQLAlchemy sessions in the same process (a node's store, when both run in one
    interpreter, as in the tests and the demo) are never touched by them."""


#: Rows that never show on a public page or in the public API: writing them does not invalidate cached pages.
#: (Network samples do count: a poll re-renders each page once per poll interval, which costs little, and
#: pages then show a new poll at once.)
_NOT_CONTENT: tuple[type, ...] = (ContentGeneration, User, LoginAttempt, AuditEntry, Revision)
_BUMP = text("UPDATE content_generation SET value = value + 1 WHERE id = 1")
_CONTENT_CHANGED = "portal_content_changed"


def _is_content(obj: object) -> bool:
    return isinstance(obj, Base) and not isinstance(obj, _NOT_CONTENT)


def bump_generation(conn: Connection) -> None:
    """Advance the content generation on ``conn`` (in its transaction): cached pages of every process go stale."""
    conn.execute(_BUMP)


@event.listens_for(PortalSession, "after_flush")
def _note_content_flush(session: Session, _context: Any) -> None:
    if any(_is_content(o) for o in (*session.new, *session.dirty, *session.deleted)):
        session.info[_CONTENT_CHANGED] = True


@event.listens_for(PortalSession, "do_orm_execute")
def _note_content_dml(state: ORMExecuteState) -> None:
    """Bulk ``update()``/``delete()``/``insert()`` of content rows run through the session count as content writes."""
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    entity = state.bind_mapper.class_ if state.bind_mapper is not None else None
    if entity is None or not issubclass(entity, _NOT_CONTENT):
        state.session.info[_CONTENT_CHANGED] = True


@event.listens_for(PortalSession, "before_commit")
def _bump_generation_on_commit(session: Session) -> None:
    """Bump the generation in the committing transaction when it wrote content (flushed, pending or bulk)."""
    pending = any(_is_content(o) for o in (*session.new, *session.dirty, *session.deleted))
    if session.info.get(_CONTENT_CHANGED) or pending:
        bump_generation(session.connection())
        session.info.pop(_CONTENT_CHANGED, None)


@event.listens_for(PortalSession, "after_commit")
@event.listens_for(PortalSession, "after_rollback")
def _forget_content_changes(session: Session, *_args: Any) -> None:
    session.info.pop(_CONTENT_CHANGED, None)
