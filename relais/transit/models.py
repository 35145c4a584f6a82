"""Lines (GTFS routes) and stops of an organisation's network, as its own feed describes them."""

from django.db import models

from relais.accounts.models import Organization


class Feed(models.Model):
    """One import of a GTFS feed; the routes and stops below come from the latest one."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="gtfs_feeds"
    )
    source = models.CharField(max_length=500)
    publisher = models.CharField(max_length=200, blank=True)
    version = models.CharField(max_length=100, blank=True)
    routes = models.PositiveIntegerField(default=0)
    stops = models.PositiveIntegerField(default=0)
    imported_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.source} ({self.imported_at:%Y-%m-%d})"


class Route(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="routes")
    gtfs_id = models.CharField(max_length=200)
    short_name = models.CharField(max_length=100, blank=True)
    long_name = models.CharField(max_length=300, blank=True)
    description = models.CharField(max_length=300, blank=True)
    route_type = models.PositiveIntegerField()
    color = models.CharField(max_length=6, blank=True)
    text_color = models.CharField(max_length=6, blank=True)
    sort_order = models.IntegerField(null=True, blank=True)
    # {"en": "...", ...} from translations.txt
    translations = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "gtfs_id"], name="route_unique_gtfs")
        ]
        ordering = ["sort_order", "short_name"]

    def __str__(self) -> str:
        return self.short_name or self.long_name


class Stop(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="stops")
    gtfs_id = models.CharField(max_length=200)
    code = models.CharField(max_length=100, blank=True)
    name = models.CharField(max_length=300)
    description = models.CharField(max_length=300, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    # 0 stop or platform, 1 station, 2 entrance, 3 generic node, 4 boarding area
    location_type = models.PositiveSmallIntegerField(default=0)
    parent_gtfs_id = models.CharField(max_length=200, blank=True)
    translations = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "gtfs_id"], name="stop_unique_gtfs")
        ]
        indexes = [
            # Serves the entity recogniser's lexicon build: an organisation's stops by name.
            models.Index(fields=["organization", "name"], name="stop_org_name"),
        ]

    def __str__(self) -> str:
        return self.name
