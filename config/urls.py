"""URLs: one include per app, plus sign-in. Every page requires a signed-in user
(LoginRequiredMiddleware); only the sign-in page and the health check are public."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from programme.views import overview


@login_not_required
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("", overview, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", healthz, name="healthz"),
    path("", include("runbooks.urls")),
    path("", include("drills.urls")),
    path("", include("plans.urls")),
    path("", include("programme.urls")),
    path("", include("reviews.urls")),
    path("", include("audit.urls")),
    path("", include("observability.urls")),
    path("admin/", admin.site.urls),
]
