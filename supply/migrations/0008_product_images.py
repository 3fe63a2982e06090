import django.core.validators
import django.db.models.deletion
from django.db import migrations, models


def urls_to_images(apps, schema_editor):
    """Each URL of `Product.image_urls` becomes an external picture of the product, in the same order (the field
    goes in 0008). No file is fetched: a migration makes no network call; the supplier can upload the picture."""
    Product = apps.get_model("supply", "Product")
    ProductImage = apps.get_model("supply", "ProductImage")
    rows = []
    for product in Product.objects.exclude(image_urls=[]).only("pk", "title", "image_urls").iterator():
        urls = [url for url in dict.fromkeys(product.image_urls or []) if isinstance(url, str) and url.strip()]
        rows += [ProductImage(product_id=product.pk, position=position, external_url=url.strip()[:500],
                              alt_text=product.title[:200]) for position, url in enumerate(urls)]
    ProductImage.objects.bulk_create(rows, batch_size=1000)


def images_to_urls(apps, schema_editor):
    Product = apps.get_model("supply", "Product")
    ProductImage = apps.get_model("supply", "ProductImage")
    urls: dict[int, list[str]] = {}
    for product_id, url in (ProductImage.objects.exclude(external_url="").order_by("product_id", "position", "pk")
                            .values_list("product_id", "external_url")):
        urls.setdefault(product_id, []).append(url)
    for product_id, product_urls in urls.items():
        Product.objects.filter(pk=product_id).update(image_urls=product_urls)


class Migration(migrations.Migration):
    """Product pictures as rows (ProductImage: uploads with thumbnails, generated pictures, external URLs) and the
    colour of a category's generated pictures; the URLs of `Product.image_urls` move into rows."""

    dependencies = [
        ('supply', '0007_product_search_vector_and_words'),
    ]

    operations = [
        migrations.AddField(
            model_name='category',
            name='colour',
            field=models.CharField(blank=True, default='', help_text="生成的商品示意图的底色，留空则用上级类目的颜色 (background of generated pictures; empty = the parent's)", max_length=7, validators=[django.core.validators.RegexValidator('^#[0-9a-fA-F]{6}$', '如 #C0392B (e.g. #C0392B)')], verbose_name='颜色 colour'),
        ),
        migrations.CreateModel(
            name='ProductImage',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(auto_now_add=True, db_index=True, verbose_name='创建时间 created')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='更新时间 updated')),
                ('position', models.PositiveIntegerField(default=0, verbose_name='排序 position')),
                ('file', models.FileField(blank=True, default='', max_length=255, upload_to='', verbose_name='图片 picture')),
                ('thumbnail_medium', models.FileField(blank=True, default='', max_length=255, upload_to='', verbose_name='详情图 detail thumbnail')),
                ('thumbnail_small', models.FileField(blank=True, default='', max_length=255, upload_to='', verbose_name='列表图 list thumbnail')),
                ('external_url', models.URLField(blank=True, default='', max_length=500, verbose_name='外部图片地址 external URL')),
                ('width', models.PositiveIntegerField(blank=True, null=True, verbose_name='宽(像素) width px')),
                ('height', models.PositiveIntegerField(blank=True, null=True, verbose_name='高(像素) height px')),
                ('size_bytes', models.PositiveIntegerField(default=0, verbose_name='文件大小(字节) bytes')),
                ('content_type', models.CharField(blank=True, default='', max_length=32, verbose_name='文件类型 content type')),
                ('content_hash', models.CharField(blank=True, default='', max_length=64, verbose_name='内容摘要 content SHA-256')),
                ('is_generated', models.BooleanField(default=False, verbose_name='系统生成 generated')),
                ('alt_text', models.CharField(blank=True, default='', max_length=200, verbose_name='图片说明 alt text')),
                ('drawn_title', models.CharField(blank=True, default='', max_length=200, verbose_name='生成时的标题 drawn title')),
                ('drawn_colour', models.CharField(blank=True, default='', max_length=7, verbose_name='生成时的颜色 drawn colour')),
                ('product', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='images', to='supply.product', verbose_name='商品 product')),
            ],
            options={
                'verbose_name': '商品图片 product image',
                'verbose_name_plural': '商品图片 product images',
                'ordering': ['position', 'pk'],
                'indexes': [models.Index(fields=['product', 'position'], name='product_image_order_idx')],
                'constraints': [models.UniqueConstraint(condition=models.Q(('content_hash', ''), _negated=True), fields=('product', 'content_hash'), name='product_image_once'), models.UniqueConstraint(condition=models.Q(('is_generated', True)), fields=('product',), name='product_one_generated_image'), models.CheckConstraint(condition=models.Q(models.Q(models.Q(('file', ''), _negated=True), ('external_url', '')), models.Q(('file', ''), models.Q(('external_url', ''), _negated=True), ('is_generated', False)), _connector='OR'), name='product_image_file_or_external_url')],
            },
        ),
        migrations.RunPython(urls_to_images, images_to_urls),
    ]
